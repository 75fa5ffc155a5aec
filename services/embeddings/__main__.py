"""`python -m services.embeddings`: serve embeddings and moderations on the bus until SIGINT/SIGTERM."""

from services.bus_service import serve_models
from services.embeddings.registry import embeddings_registry
from services.embeddings.service import EmbeddingsService
from services.embeddings.settings import EmbeddingsSettings
from shared.settings import from_env


def run() -> None:
    import uvloop

    settings = from_env(EmbeddingsSettings)
    uvloop.run(serve_models(
        "embeddings", settings,
        make_registry=lambda config, tracing: embeddings_registry(config, tracer_provider=tracing),
        make_service=lambda nc, registry, tracing: EmbeddingsService(
            nc, registry, heartbeat_interval=settings.heartbeat_interval, tracer_provider=tracing)))


if __name__ == "__main__":
    run()
