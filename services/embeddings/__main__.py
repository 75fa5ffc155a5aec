"""`python -m services.embeddings`: serve embeddings and moderations on the bus until SIGINT/SIGTERM."""


from services.bus_service import until_signalled
from services.embeddings.registry import embeddings_registry
from services.embeddings.service import EmbeddingsService
from services.embeddings.settings import EmbeddingsSettings
from shared import bus, logs, modelconfig, runtime, telemetry
from shared.settings import from_env


async def main(settings: EmbeddingsSettings) -> None:
    log = logs.setup("embeddings", settings.log_level)
    tracing = telemetry.provider_from_env("vivian-embeddings")
    registry = embeddings_registry(modelconfig.load(settings.models or None), tracer_provider=tracing)
    await registry.start()
    nc = await bus.connect(settings.nats_url, name="vivian-embeddings")
    service = EmbeddingsService(nc, registry, heartbeat_interval=settings.heartbeat_interval,
                                tracer_provider=tracing)
    await service.start()
    runtime.settle()
    log.info("serving %d model ids on %s", len(registry.models.data), settings.nats_url)
    await until_signalled()
    log.info("stopping")
    await service.stop(drain_timeout=settings.drain_timeout)
    await nc.drain()
    await registry.close()
    telemetry.shutdown(tracing)


def run() -> None:
    import uvloop

    uvloop.run(main(from_env(EmbeddingsSettings)))


if __name__ == "__main__":
    run()
