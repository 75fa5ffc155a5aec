"""The images service's models: OpenAI-compatible upstreams (`provider = "openai"`, `api = "images"`)."""

from opentelemetry.trace import TracerProvider

from services.chat.providers.openai_compat import OpenAICompat
from shared import registry, telemetry
from shared.modelconfig import ModelConfig, OpenAIModel


def images_registry(config: ModelConfig, *, tracer_provider: TracerProvider | None = None) -> registry.Registry:
    tracer = telemetry.tracer(tracer_provider, "vivian.images")

    def make_provider(entry):
        if isinstance(entry, OpenAIModel):
            return OpenAICompat(entry, tracer=tracer)
        raise TypeError(f"no images provider for {entry!r}")

    return registry.Registry(config, apis={"images"}, make_provider=make_provider)
