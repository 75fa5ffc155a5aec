"""`python -m services.audio`: serve speech, transcriptions and translations on the bus until
SIGINT/SIGTERM."""

from services.audio.registry import audio_registry
from services.audio.service import AudioService
from services.kit.service import run_model_service

if __name__ == "__main__":
    run_model_service(
        "audio",
        make_registry=lambda config, tracing: audio_registry(config, tracer_provider=tracing),
        make_service=lambda nc, registry, tracing, settings: AudioService(
            nc, registry, heartbeat_interval=settings.heartbeat_interval, tracer_provider=tracing))
