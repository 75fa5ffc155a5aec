"""The embeddings service on the bus: `/v1/embeddings` and `/v1/moderations`."""

import functools
from collections.abc import Callable

import msgspec
from nats.aio.client import Client
from opentelemetry.trace import TracerProvider

from services.kit import service as bus_service
from services.kit.service import BusService, Endpoint
from services.chat.providers.base import Call
from services.embeddings import embeddings, moderations
from services.embeddings.providers.onnx_embedding import OnnxEmbedding
from services.embeddings.providers.toxic_bilstm import ToxicBiLSTM
from services.kit.outcome import Outcome, usage_in
from shared import subjects
from shared.bus import Replier
from shared.protocol.bus import Envelope
from shared.protocol.embeddings import EmbeddingRequest
from shared.protocol.moderations import ModerationRequest
from shared.registry import Registry

_decode_embedding = msgspec.json.Decoder(EmbeddingRequest)
_decode_moderation = msgspec.json.Decoder(ModerationRequest)


class EmbeddingsService(BusService):
    def __init__(self, nc: Client, registry: Registry, *, heartbeat_interval: float,
                 tracer_provider: TracerProvider | None = None) -> None:
        super().__init__(nc, name=subjects.SERVICES["embeddings"], description="embeddings and moderations",
                         heartbeat_interval=heartbeat_interval, tracer_provider=tracer_provider)
        self._registry = registry

    def endpoints(self) -> list[Endpoint]:
        # A cancelled request's inputs still queued in the batcher are dropped.
        return [Endpoint("embeddings", subjects.EMBEDDINGS, "/v1/embeddings", self._embeddings, cancellable=True),
                Endpoint("moderations", subjects.MODERATIONS, "/v1/moderations", self._moderations, cancellable=True)]

    async def _embeddings(self, envelope: Envelope, replier: Replier, outcome: Outcome) -> None:
        await self._answer(envelope, replier, outcome, _decode_embedding, "embeddings", OnnxEmbedding,
                           functools.partial(embeddings.create, request_id=envelope.request_id))

    async def _moderations(self, envelope: Envelope, replier: Replier, outcome: Outcome) -> None:
        await self._answer(envelope, replier, outcome, _decode_moderation, "moderations", ToxicBiLSTM,
                           moderations.create)

    async def _answer(self, envelope: Envelope, replier: Replier, outcome: Outcome, decoder: msgspec.json.Decoder,
                      endpoint: str, local: type, create_locally: Callable) -> None:
        """Decode, pick the model's provider, answer: with `create_locally` on a `local` model, else
        by relaying the client's body to the model's upstream."""
        request = bus_service.decode(decoder, envelope.body)
        outcome.model = request.model
        provider = self._registry.provider(request.model, f"/v1/{endpoint}")
        if isinstance(provider, local):
            work = create_locally(request, provider, request.model)
        else:
            work = provider.create(_call(endpoint, envelope, request.model))
        answer = await work
        outcome.usage = usage_in(answer)
        await replier.data(answer, usage=outcome.usage)


def _call(endpoint: str, envelope: Envelope, model: str) -> Call:
    """An upstream call: the client's body goes to the `openai` provider as it came."""
    return Call(endpoint=endpoint, request=None, raw=bytes(envelope.body), model=model,
                request_id=envelope.request_id)


