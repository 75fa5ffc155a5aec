"""`python -m services.embeddings`: serve embeddings and moderations on the bus until SIGINT/SIGTERM."""

from services.embeddings.registry import embeddings_registry
from services.embeddings.service import EmbeddingsService
from services.kit import main

if __name__ == "__main__":
    main.run("embeddings", main.ModelServiceSettings, main.model_parts(
        lambda config, tracing: embeddings_registry(config, tracer_provider=tracing),
        lambda nc, registry, tracing, settings: EmbeddingsService(
            nc, registry, heartbeat_interval=settings.heartbeat_interval, tracer_provider=tracing)))
