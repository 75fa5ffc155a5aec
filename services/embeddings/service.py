"""The embeddings service on the bus: `/v1/embeddings` and `/v1/moderations`."""

import msgspec
from nats.aio.client import Client
from opentelemetry.trace import TracerProvider

from services.embeddings.providers.base import Call, EmbeddingsProvider
from services.embeddings.providers.base import Endpoint as ApiEndpoint
from services.kit import service as bus_service
from services.kit.outcome import Outcome, usage_in
from services.kit.service import BusService, Endpoint
from shared import subjects
from shared.bus import Replier
from shared.protocol.bus import Envelope
from shared.protocol.embeddings import EmbeddingRequest
from shared.protocol.moderations import ModerationRequest
from shared.registry import Registry

_decode_embedding = msgspec.json.Decoder(EmbeddingRequest)
_decode_moderation = msgspec.json.Decoder(ModerationRequest)


class EmbeddingsService(BusService):
    def __init__(self, nc: Client, registry: Registry[EmbeddingsProvider], *, heartbeat_interval: float,
                 tracer_provider: TracerProvider | None = None) -> None:
        super().__init__(nc, name=subjects.SERVICES["embeddings"], description="embeddings and moderations",
                         heartbeat_interval=heartbeat_interval, tracer_provider=tracer_provider)
        self._registry = registry

    def endpoints(self) -> list[Endpoint]:
        # A cancelled request's inputs still queued in the batcher are dropped.
        return [Endpoint("embeddings", subjects.EMBEDDINGS, "/v1/embeddings", self._embeddings, cancellable=True),
                Endpoint("moderations", subjects.MODERATIONS, "/v1/moderations", self._moderations, cancellable=True)]

    async def _embeddings(self, envelope: Envelope, replier: Replier, outcome: Outcome) -> None:
        await self._answer(envelope, replier, outcome, _decode_embedding, "embeddings")

    async def _moderations(self, envelope: Envelope, replier: Replier, outcome: Outcome) -> None:
        await self._answer(envelope, replier, outcome, _decode_moderation, "moderations")

    async def _answer(self, envelope: Envelope, replier: Replier, outcome: Outcome, decoder: msgspec.json.Decoder,
                      endpoint: ApiEndpoint) -> None:
        """Decode, pick the model's provider (a model of this endpoint's API), answer."""
        request = bus_service.decode(decoder, envelope.body)
        outcome.model = request.model
        provider = self._registry.provider(request.model, f"/v1/{endpoint}", apis={endpoint})
        answer = await provider.create(Call(endpoint=endpoint, request=request, raw=bytes(envelope.body),
                                            model=request.model, request_id=envelope.request_id))
        outcome.usage = usage_in(answer)
        await replier.data(answer, usage=outcome.usage)
