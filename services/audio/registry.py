"""The audio service's models: the local voice, local Whisper models, and upstreams."""

from opentelemetry.trace import TracerProvider

from services.audio.providers.base import AudioProvider
from services.audio.providers.local_speech import LocalSpeech
from services.audio.providers.local_whisper import LocalWhisper
from services.audio.providers.openai_audio import OpenAIAudio
from shared import registry, telemetry
from shared.modelconfig import ModelConfig

# The audio providers, by the model config's `provider` tag.
PROVIDERS = {"local-speech": LocalSpeech, "local-transcription": LocalWhisper, "openai": OpenAIAudio}


def audio_registry(config: ModelConfig, *,
                   tracer_provider: TracerProvider | None = None) -> registry.Registry[AudioProvider]:
    return registry.Registry(config, apis={"speech", "transcriptions", "translations"}, providers=PROVIDERS,
                             tracer=telemetry.tracer(tracer_provider, "vivian.audio"))
