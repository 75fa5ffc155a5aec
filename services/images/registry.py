"""The images service's models: OpenAI-compatible upstreams (`provider = "openai"`, `api = "images"`)."""

from opentelemetry.trace import TracerProvider

from services.images.providers.base import ImagesProvider
from services.images.providers.openai_images import OpenAIImages
from shared import registry, telemetry
from shared.modelconfig import ModelConfig

# The images providers, by the model config's `provider` tag.
PROVIDERS = {"openai": OpenAIImages}


def images_registry(config: ModelConfig, *,
                    tracer_provider: TracerProvider | None = None) -> registry.Registry[ImagesProvider]:
    return registry.Registry(config, apis={"images"}, providers=PROVIDERS,
                             tracer=telemetry.tracer(tracer_provider, "vivian.images"))
