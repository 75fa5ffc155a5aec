"""`python -m services.audio`: serve speech, transcriptions and translations on the bus until
SIGINT/SIGTERM."""

from services.audio.registry import audio_registry
from services.audio.service import AudioService
from services.kit import main

if __name__ == "__main__":
    main.run("audio", main.ModelServiceSettings, main.model_parts(
        lambda config, tracing: audio_registry(config, tracer_provider=tracing),
        lambda nc, registry, tracing, settings: AudioService(
            nc, registry, heartbeat_interval=settings.heartbeat_interval, tracer_provider=tracing)))
