"""`python -m services.chat`: serve the configured models on the bus until SIGINT/SIGTERM."""


from services.bus_service import until_signalled
from services.chat.registry import Registry
from services.chat.service import ChatService
from services.chat.settings import ChatSettings
from shared import bus, logs, modelconfig, runtime, telemetry
from shared.settings import from_env


async def main(settings: ChatSettings) -> None:
    log = logs.setup("chat", settings.log_level)
    tracing = telemetry.provider_from_env("vivian-chat")
    registry = Registry(modelconfig.load(settings.models or None), tracer_provider=tracing)
    await registry.start()
    nc = await bus.connect(settings.nats_url, name="vivian-chat")
    service = ChatService(nc, registry, heartbeat_interval=settings.heartbeat_interval, tracer_provider=tracing)
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

    uvloop.run(main(from_env(ChatSettings)))


if __name__ == "__main__":
    run()
