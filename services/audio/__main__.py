"""`python -m services.audio`: serve speech on the bus until SIGINT/SIGTERM."""

from services.audio.providers.local_speech import LocalSpeech
from services.audio.service import AudioService
from services.audio.settings import AudioSettings
from services.bus_service import until_signalled
from shared import bus, logs, modelconfig, runtime, telemetry
from shared.modelconfig import LocalSpeechModel
from shared.registry import Registry
from shared.settings import from_env


def make_provider(entry: modelconfig.ModelEntry) -> LocalSpeech:
    if isinstance(entry, LocalSpeechModel):
        return LocalSpeech(entry)
    raise SystemExit(f"model {entry.id}: speech from an upstream is not supported yet")


async def main(settings: AudioSettings) -> None:
    log = logs.setup("audio", settings.log_level)
    tracing = telemetry.provider_from_env("vivian-audio")
    registry = Registry(modelconfig.load(settings.models or None), apis={"speech"}, make_provider=make_provider)
    await registry.start()
    nc = await bus.connect(settings.nats_url, name="vivian-audio")
    service = AudioService(nc, registry, heartbeat_interval=settings.heartbeat_interval, tracer_provider=tracing)
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

    uvloop.run(main(from_env(AudioSettings)))


if __name__ == "__main__":
    run()
