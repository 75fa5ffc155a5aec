"""The embeddings service's models: local embedding and moderation models, and upstreams."""

from opentelemetry.trace import TracerProvider

from services.chat.providers.openai_compat import OpenAICompat
from services.embeddings.providers.onnx_embedding import OnnxEmbedding
from services.embeddings.providers.toxic_bilstm import ToxicBiLSTM
from shared import registry, telemetry
from shared.modelconfig import LocalEmbeddingModel, LocalModerationModel, ModelConfig, OpenAIModel


def embeddings_registry(config: ModelConfig, *, tracer_provider: TracerProvider | None = None) -> registry.Registry:
    tracer = telemetry.tracer(tracer_provider, "vivian.embeddings")

    def make_provider(entry):
        match entry:
            case LocalEmbeddingModel():
                return OnnxEmbedding(entry)
            case LocalModerationModel():
                return ToxicBiLSTM(entry)
            case OpenAIModel():
                return OpenAICompat(entry, tracer=tracer)
        raise TypeError(f"no embeddings provider for {entry!r}")

    return registry.Registry(config, apis={"embeddings", "moderations"}, make_provider=make_provider)
