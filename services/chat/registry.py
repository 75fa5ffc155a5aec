"""The chat service's models: local llama.cpp models and OpenAI-compatible upstreams."""

from opentelemetry.trace import Tracer, TracerProvider

from services.chat.providers.base import ChatProvider
from services.chat.providers.local_llama import LocalLlama
from services.chat.providers.openai_compat import OpenAICompat
from shared import registry, telemetry
from shared.modelconfig import LocalModel, ModelConfig, ModelEntry, OpenAIModel


def make_provider(entry: ModelEntry, tracer: Tracer | None = None) -> ChatProvider:
    match entry:
        case LocalModel():
            return LocalLlama(entry)
        case OpenAIModel():
            return OpenAICompat(entry, tracer=tracer)
    raise TypeError(f"no chat provider for {entry!r}")


class Registry(registry.Registry[ChatProvider]):
    def __init__(self, config: ModelConfig, *, tracer_provider: TracerProvider | None = None) -> None:
        tracer = telemetry.tracer(tracer_provider, "vivian.chat")
        super().__init__(config, apis={"chat"}, make_provider=lambda entry: make_provider(entry, tracer))

    def provider(self, name: str, endpoint: str = "/v1/chat/completions") -> ChatProvider:
        return super().provider(name, endpoint)
