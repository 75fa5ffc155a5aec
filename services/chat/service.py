"""The chat service on the bus: one micro-service endpoint per API path, one task per request."""

import asyncio
import logging

import msgspec
from nats.aio.client import Client
from opentelemetry.trace import TracerProvider

from services.chat import models, validation
from services.chat.providers.base import Call
from services.chat.providers.base import Endpoint as ApiEndpoint
from services.chat.registry import Registry
from services.chat.stored_completions import CompletionStore
from services.chat.tuned_models import FineTunedModels
from services.kit import service as bus_service
from services.kit.outcome import Outcome, chunk_usage, usage_in
from services.kit.service import BusService, Endpoint
from shared import subjects
from shared.bus import Replier
from shared.protocol.bus import Envelope
from shared.protocol.chat import ChatCompletionRequest
from shared.protocol.completions import CompletionRequest
from shared.protocol.responses import ResponseCreateRequest

log = logging.getLogger("chat")
_decoders = {
    "chat/completions": msgspec.json.Decoder(ChatCompletionRequest),
    "completions": msgspec.json.Decoder(CompletionRequest),
    "responses": msgspec.json.Decoder(ResponseCreateRequest),
}


class ChatService(BusService):
    def __init__(self, nc: Client, registry: Registry, *, heartbeat_interval: float,
                 tracer_provider: TracerProvider | None = None, store: CompletionStore | None = None) -> None:
        super().__init__(nc, name=subjects.SERVICES["chat"], description="chat completions, completions and models",
                         heartbeat_interval=heartbeat_interval, tracer_provider=tracer_provider)
        self._registry = registry
        self._fine_tuned: FineTunedModels | None = None
        self._store = store or CompletionStore("", page_budget=0)  # completions kept with `store: true`

    def endpoints(self) -> list[Endpoint]:
        return [
            Endpoint("chat_completions", subjects.CHAT_COMPLETIONS, "/v1/chat/completions", self._chat_completions,
                     cancellable=True),
            Endpoint("completions", subjects.COMPLETIONS, "/v1/completions", self._completions, cancellable=True),
            # the responses service's requests for models whose upstream has the Responses API
            Endpoint("responses", subjects.CHAT_RESPONSES, "/v1/responses", self._responses, cancellable=True),
            Endpoint("models_list", subjects.MODELS_LIST, "/v1/models", self.answering(models.list_models, self._registry)),
            Endpoint("models_retrieve", subjects.MODELS_RETRIEVE, "/v1/models/{model}",
                     self.answering(models.retrieve, self._registry)),
            # stored completions
            Endpoint("chat_completions_list", subjects.CHAT_COMPLETIONS_LIST, "/v1/chat/completions",
                     self.answering(CompletionStore.list_completions, self._store)),
            Endpoint("chat_completions_retrieve", subjects.CHAT_COMPLETIONS_RETRIEVE,
                     "/v1/chat/completions/{completion_id}", self.answering(CompletionStore.retrieve, self._store)),
            Endpoint("chat_completions_update", subjects.CHAT_COMPLETIONS_UPDATE,
                     "/v1/chat/completions/{completion_id}", self.answering(CompletionStore.update, self._store)),
            Endpoint("chat_completions_delete", subjects.CHAT_COMPLETIONS_DELETE,
                     "/v1/chat/completions/{completion_id}", self.answering(CompletionStore.delete, self._store)),
            Endpoint("chat_completions_messages", subjects.CHAT_COMPLETIONS_MESSAGES,
                     "/v1/chat/completions/{completion_id}/messages",
                     self.answering(CompletionStore.messages, self._store)),
        ]

    async def start(self) -> None:
        self._fine_tuned = FineTunedModels(self._registry, self.nc.jetstream())
        await self._fine_tuned.start()
        self._store.start()
        await super().start()

    async def stop(self, *, drain_timeout: float = 20.0) -> None:
        await super().stop(drain_timeout=drain_timeout)
        if self._fine_tuned is not None:
            await self._fine_tuned.stop()
        await self._store.close()

    # ------------------------------------------------------------------ endpoints

    async def _chat_completions(self, envelope: Envelope, replier: Replier, outcome: Outcome) -> None:
        await self._generate("chat/completions", envelope, replier, outcome)

    async def _completions(self, envelope: Envelope, replier: Replier, outcome: Outcome) -> None:
        await self._generate("completions", envelope, replier, outcome)

    async def _responses(self, envelope: Envelope, replier: Replier, outcome: Outcome) -> None:
        await self._generate("responses", envelope, replier, outcome)

    def _keep(self, envelope: Envelope, request: ChatCompletionRequest, **answer) -> None:
        self._store.keep(project=envelope.project, model=request.model, messages=request.messages,
                         metadata=request.metadata, **answer)

    async def _generate(self, endpoint: ApiEndpoint, envelope: Envelope, replier: Replier, outcome: Outcome) -> None:
        request = bus_service.decode(_decoders[endpoint], envelope.body)
        outcome.model, outcome.stream = request.model, bool(request.stream)
        self._registry.check_access(request.model, envelope.project)
        if endpoint != "responses":
            validation.logit_bias(request.logit_bias)  # a local model checks its vocabulary too
        provider = self._registry.provider(request.model, project=envelope.project)
        if endpoint == "responses":
            self._registry.check_responses_api(request.model)
        call = Call(endpoint=endpoint, request=request, raw=bytes(envelope.body), model=request.model,
                    request_id=envelope.request_id, cancelled=outcome.stop)
        log.debug("request_id=%s %s model=%s stream=%s", call.request_id, endpoint, call.model, outcome.stream)
        loop = asyncio.get_running_loop()
        # `store: true` on chat completions: kept once answered, without delaying the answer.
        store = endpoint == "chat/completions" and bool(request.store) and self._store.enabled
        chunks: list[bytes] | None = [] if store and request.stream else None
        if request.stream:
            async for chunk in provider.stream(call):
                if outcome.chunks == 0:
                    outcome.first_chunk = loop.time() - outcome.started
                outcome.usage = chunk_usage(chunk) or outcome.usage
                await replier.data(chunk)
                outcome.chunks += 1
                if chunks is not None:
                    chunks.append(chunk)
            await replier.done(usage=outcome.usage)
            if store:
                self._keep(envelope, request, chunks=chunks)
        else:
            answer = await provider.create(call)
            outcome.usage = usage_in(answer)
            await replier.data(answer, usage=outcome.usage)
            if store:
                self._keep(envelope, request, answer=answer)
