"""`python -m services.audio`: serve speech on the bus until SIGINT/SIGTERM."""

from services.audio.providers.local_speech import LocalSpeech
from services.audio.service import AudioService
from services.bus_service import run_model_service
from shared.modelconfig import LocalSpeechModel, ModelEntry
from shared.registry import Registry


def make_provider(entry: ModelEntry) -> LocalSpeech:
    if isinstance(entry, LocalSpeechModel):
        return LocalSpeech(entry)
    raise SystemExit(f"model {entry.id}: speech from an upstream is not supported yet")


if __name__ == "__main__":
    run_model_service(
        "audio",
        make_registry=lambda config, tracing: Registry(config, apis={"speech"}, make_provider=make_provider),
        make_service=lambda nc, registry, tracing, settings: AudioService(
            nc, registry, heartbeat_interval=settings.heartbeat_interval, tracer_provider=tracing))
