"""`python -m services.audio`: serve speech, transcriptions and translations on the bus until
SIGINT/SIGTERM."""

from services.audio.providers.local_speech import LocalSpeech
from services.audio.providers.local_whisper import LocalWhisper
from services.audio.providers.openai_audio import OpenAIAudio
from services.audio.service import AudioService
from services.kit import main
from shared.modelconfig import LocalSpeechModel, LocalTranscriptionModel, ModelEntry, OpenAIModel
from shared.registry import Registry

APIS = {"speech", "transcriptions", "translations"}


def make_provider(entry: ModelEntry) -> LocalSpeech | LocalWhisper | OpenAIAudio:
    match entry:
        case LocalSpeechModel():
            return LocalSpeech(entry)
        case LocalTranscriptionModel():
            return LocalWhisper(entry)
        case OpenAIModel():
            return OpenAIAudio(entry)
    raise TypeError(f"no audio provider for {entry!r}")


if __name__ == "__main__":
    main.run("audio", main.ModelServiceSettings, main.model_parts(
        lambda config, tracing: Registry(config, apis=APIS, make_provider=make_provider),
        lambda nc, registry, tracing, settings: AudioService(
            nc, registry, heartbeat_interval=settings.heartbeat_interval, tracer_provider=tracing)))
