"""The chat service on the bus: one micro-service endpoint per API path, one task per request."""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import msgspec
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.micro import Request, add_service

from services.chat.providers.base import Call, Endpoint
from services.chat.registry import Registry
from shared import errors, subjects
from shared.bus import Replier, decode_envelope
from shared.protocol.bus import Envelope
from shared.protocol.chat import ChatCompletionRequest
from shared.protocol.completions import CompletionRequest

log = logging.getLogger("chat")
_encode = msgspec.json.Encoder().encode
_decoders = {
    "chat/completions": msgspec.json.Decoder(ChatCompletionRequest).decode,
    "completions": msgspec.json.Decoder(CompletionRequest).decode,
}

Handler = Callable[[Envelope, Replier], Awaitable[None]]


class ChatService:
    def __init__(self, nc: Client, registry: Registry, *, heartbeat_interval: float) -> None:
        self._nc = nc
        self._registry = registry
        self._heartbeat = heartbeat_interval
        self._tasks: set[asyncio.Task] = set()
        self._running: dict[str, tuple[Call, asyncio.Task]] = {}
        self._client_gone: set[str] = set()  # request ids whose client disconnected
        self._service = None
        self._cancel_sub = None

    async def start(self) -> None:
        self._cancel_sub = await self._nc.subscribe(subjects.CANCEL, cb=self._on_cancel)
        self._service = await add_service(self._nc, name="vivian-chat", version="0.1.0",
                                          description="chat completions, completions and models",
                                          queue_group=subjects.QUEUE_GROUP)
        endpoints = {
            "chat_completions": (subjects.CHAT_COMPLETIONS, self._chat_completions),
            "completions": (subjects.COMPLETIONS, self._completions),
            "models_list": (subjects.MODELS_LIST, self._models_list),
            "models_retrieve": (subjects.MODELS_RETRIEVE, self._models_retrieve),
        }
        for name, (subject, handler) in endpoints.items():
            await self._service.add_endpoint(name=name, subject=subject, handler=self._spawner(handler))

    async def stop(self, *, drain_timeout: float = 20.0) -> None:
        """Take no new requests, let running ones finish for `drain_timeout`, then end the rest
        with an error their clients see at once."""
        if self._service is not None:
            await self._service.stop()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=drain_timeout)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._cancel_sub is not None:
            await self._cancel_sub.unsubscribe()

    # ------------------------------------------------------------------ plumbing

    def _spawner(self, handler: Handler) -> Callable[[Request], Awaitable[None]]:
        """Micro handlers run one at a time per endpoint, so each request gets a task of its own."""

        async def spawn(request: Request) -> None:
            task = asyncio.create_task(self._guarded(handler, request))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        return spawn

    async def _guarded(self, handler: Handler, request: Request) -> None:
        replier = Replier(request.respond)
        try:
            envelope = decode_envelope(request.data)
        except (msgspec.DecodeError, msgspec.ValidationError):
            log.warning("dropped a malformed envelope on %s", request.subject)
            await replier.failure(errors.invalid_request("Malformed bus envelope."))
            return
        try:
            await handler(envelope, replier)
        except errors.ApiError as err:
            log.info("request_id=%s status=%s error=%s", envelope.request_id, err.status, err.message)
            await replier.failure(err)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("request_id=%s failed", envelope.request_id)
            await replier.failure(errors.server_error())

    async def _on_cancel(self, msg: Msg) -> None:
        running = self._running.get(msg.data.decode())
        if running is not None:
            call, task = running
            self._client_gone.add(call.request_id)
            call.cancelled.set()
            task.cancel()

    # ------------------------------------------------------------------ endpoints

    async def _chat_completions(self, envelope: Envelope, replier: Replier) -> None:
        await self._generate("chat/completions", envelope, replier)

    async def _completions(self, envelope: Envelope, replier: Replier) -> None:
        await self._generate("completions", envelope, replier)

    async def _models_list(self, envelope: Envelope, replier: Replier) -> None:
        await replier.data(_encode(self._registry.models))

    async def _models_retrieve(self, envelope: Envelope, replier: Replier) -> None:
        await replier.data(_encode(self._registry.model(msgspec.json.decode(envelope.body, type=str))))

    async def _generate(self, endpoint: Endpoint, envelope: Envelope, replier: Replier) -> None:
        started = time.monotonic()
        try:
            request = _decoders[endpoint](envelope.body)
        except (msgspec.DecodeError, msgspec.ValidationError) as err:
            raise errors.from_validation(err) from None
        provider = self._registry.provider(request.model)
        call = Call(endpoint=endpoint, request=request, raw=bytes(envelope.body), model=request.model,
                    request_id=envelope.request_id)
        log.info("request_id=%s %s model=%s stream=%s", call.request_id, endpoint, call.model, bool(request.stream))
        self._running[call.request_id] = (call, asyncio.current_task())
        heartbeats = asyncio.create_task(replier.heartbeats(self._heartbeat))
        chunks, outcome = 0, "done"
        try:
            if request.stream:
                async for chunk in provider.stream(call):
                    await replier.data(chunk)
                    chunks += 1
                await replier.done()
            else:
                await replier.data(await provider.create(call))
        except asyncio.CancelledError:
            outcome = "cancelled"
            if call.request_id not in self._client_gone:  # we are stopping: say so, not silence
                await replier.failure(errors.ApiError(503, "The chat service stopped while answering; retry.",
                                                      type="server_error", code="service_unavailable"))
                raise
        finally:
            heartbeats.cancel()
            del self._running[call.request_id]
            self._client_gone.discard(call.request_id)
            log.info("request_id=%s %s chunks=%d seconds=%.3f", call.request_id, outcome, chunks,
                     time.monotonic() - started)
