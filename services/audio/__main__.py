"""`python -m services.audio`: serve speech on the bus until SIGINT/SIGTERM."""

from services.audio.providers.local_speech import LocalSpeech
from services.audio.service import AudioService
from services.audio.settings import AudioSettings
from services.bus_service import serve_models
from shared.modelconfig import LocalSpeechModel, ModelEntry
from shared.registry import Registry
from shared.settings import from_env


def make_provider(entry: ModelEntry) -> LocalSpeech:
    if isinstance(entry, LocalSpeechModel):
        return LocalSpeech(entry)
    raise SystemExit(f"model {entry.id}: speech from an upstream is not supported yet")


def run() -> None:
    import uvloop

    settings = from_env(AudioSettings)
    uvloop.run(serve_models(
        "audio", settings,
        make_registry=lambda config, tracing: Registry(config, apis={"speech"}, make_provider=make_provider),
        make_service=lambda nc, registry, tracing: AudioService(
            nc, registry, heartbeat_interval=settings.heartbeat_interval, tracer_provider=tracing)))


if __name__ == "__main__":
    run()
