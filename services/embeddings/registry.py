"""The embeddings service's models: local embedding and moderation models, and upstreams."""

from opentelemetry.trace import TracerProvider

from services.embeddings.providers.base import EmbeddingsProvider
from services.embeddings.providers.onnx_embedding import OnnxEmbedding
from services.embeddings.providers.openai_embeddings import OpenAIEmbeddings
from services.embeddings.providers.toxic_bilstm import ToxicBiLSTM
from shared import registry, telemetry
from shared.modelconfig import ModelConfig

# The embeddings and moderations providers, by the model config's `provider` tag.
PROVIDERS = {"local-embedding": OnnxEmbedding, "local-moderation": ToxicBiLSTM, "openai": OpenAIEmbeddings}


def embeddings_registry(config: ModelConfig, *,
                        tracer_provider: TracerProvider | None = None) -> registry.Registry[EmbeddingsProvider]:
    return registry.Registry(config, apis={"embeddings", "moderations"}, providers=PROVIDERS,
                             tracer=telemetry.tracer(tracer_provider, "vivian.embeddings"))
