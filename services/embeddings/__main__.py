"""`python -m services.embeddings`: serve embeddings and moderations on the bus until SIGINT/SIGTERM."""

from services.kit.service import run_model_service
from services.embeddings.registry import embeddings_registry
from services.embeddings.service import EmbeddingsService

if __name__ == "__main__":
    run_model_service(
        "embeddings",
        make_registry=lambda config, tracing: embeddings_registry(config, tracer_provider=tracing),
        make_service=lambda nc, registry, tracing, settings: EmbeddingsService(
            nc, registry, heartbeat_interval=settings.heartbeat_interval, tracer_provider=tracing))
