"""The embeddings service on the bus: `/v1/embeddings` and `/v1/moderations`."""


import msgspec
from nats.aio.client import Client
from opentelemetry.trace import TracerProvider

from services import bus_service
from services.bus_service import BusService, Endpoint
from services.chat.providers.base import Call
from services.embeddings import embeddings, moderations
from services.embeddings.providers.onnx_embedding import OnnxEmbedding
from services.embeddings.providers.toxic_bilstm import ToxicBiLSTM
from services.outcome import Outcome, usage_in
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
        return [Endpoint("embeddings", subjects.EMBEDDINGS, "/v1/embeddings", self._embeddings),
                Endpoint("moderations", subjects.MODERATIONS, "/v1/moderations", self._moderations)]

    async def _embeddings(self, envelope: Envelope, replier: Replier, outcome: Outcome) -> None:
        request = bus_service.decode(_decode_embedding, envelope.body)
        outcome.model = request.model
        provider = self._registry.provider(request.model, "/v1/embeddings")
        if isinstance(provider, OnnxEmbedding):
            answer = await self._working(replier, embeddings.create(request, provider, request.model))
        else:
            answer = await self._working(replier, provider.create(_call("embeddings", envelope, request.model)))
        outcome.usage = usage_in(answer)
        await replier.data(answer, usage=outcome.usage)

    async def _moderations(self, envelope: Envelope, replier: Replier, outcome: Outcome) -> None:
        request = bus_service.decode(_decode_moderation, envelope.body)
        outcome.model = request.model
        provider = self._registry.provider(request.model, "/v1/moderations")
        if isinstance(provider, ToxicBiLSTM):
            answer = await self._working(replier, moderations.create(request, provider, request.model))
        else:
            answer = await self._working(replier, provider.create(_call("moderations", envelope, request.model)))
        await replier.data(answer)

    async def _working(self, replier: Replier, work) -> bytes:
        """Await `work` with heartbeats going out meanwhile (a big batch can take seconds)."""
        self.heartbeats.watch(replier)
        try:
            return await work
        finally:
            self.heartbeats.forget(replier)


def _call(endpoint: str, envelope: Envelope, model: str) -> Call:
    """An upstream call: the client's body goes to the `openai` provider as it came."""
    return Call(endpoint=endpoint, request=None, raw=bytes(envelope.body), model=model,
                request_id=envelope.request_id)


