"""What every domain service shares: a NATS micro service whose endpoints each run a request as a
task of its own, answer in bus frames, and report each request once (log line, metrics, span).

A service subclasses `BusService` and lists its `Endpoint`s; a handler gets the request's envelope,
a `Replier` for its answer and an `Outcome` to fill in, and raises `ApiError` for what goes wrong.
An endpoint marked `cancellable` stops its request when the client goes away (the edge publishes the
request id on `vivian.cancel`, heard by every replica): the handler's task is cancelled and
`outcome.stop` is set, for work running in a thread to poll.
"""

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import msgspec
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.micro import Request, add_service
from nats.micro.service import EndpointStats
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, TracerProvider

from services.kit import liveness
from services.kit.outcome import Outcome, report
from shared import bus, errors, subjects, telemetry
from shared.bus import Heartbeats, Replier, decode_envelope
from shared.metrics import Metrics
from shared.protocol.bus import Envelope

log = logging.getLogger("service")
_encode = msgspec.json.Encoder().encode

Handler = Callable[[Envelope, Replier, Outcome], Awaitable[None]]
# A call answered with one struct (files, jobs): `handler(ctx, envelope)` (see `BusService.answering`).
StructHandler = Callable[[Any, Envelope], Awaitable[msgspec.Struct]]
# name, subject, the API path it serves (the metrics' `route`), handler
Route = tuple[str, str, str, StructHandler]


@dataclass(frozen=True, slots=True)
class Endpoint:
    name: str  # the micro endpoint's name
    subject: str
    route: str  # the API path: the `route` label of the metrics, the same as the edge's
    handler: Handler
    cancellable: bool = False  # a client that goes away stops the request (see the module's doc)


class BusService:
    def __init__(self, nc: Client, *, name: str, description: str, heartbeat_interval: float,
                 tracer_provider: TracerProvider | None = None) -> None:
        self.nc = nc
        self.heartbeats = Heartbeats(heartbeat_interval)
        self._name, self.description = name, description
        self._tracer = telemetry.tracer(tracer_provider, f"vivian.{name.removeprefix('vivian-')}")
        self._tasks: set[asyncio.Task] = set()
        self._metrics: dict[str, Metrics] = {}  # by endpoint name
        self._last_error: dict[str, str] = {}
        self._service = None
        self._frame_limit = bus.frame_limit(nc)
        self._liveness: asyncio.Task | None = None
        self._cancel_sub = None
        self._cancellable: dict[str, tuple[asyncio.Task, Outcome]] = {}  # running, by request id

    def endpoints(self) -> list[Endpoint]:
        raise NotImplementedError

    def cancel(self, request_id: str) -> None:
        """The client of `request_id` went away: stop its request, if this replica runs it."""
        running = self._cancellable.get(request_id)
        if running is not None:
            task, outcome = running
            outcome.client_gone = True
            outcome.stop.set()
            task.cancel()

    async def _on_cancel(self, msg: Msg) -> None:
        self.cancel(msg.data.decode())

    async def start(self) -> None:
        endpoints = self.endpoints()
        if any(endpoint.cancellable for endpoint in endpoints):
            self._cancel_sub = await self.nc.subscribe(subjects.CANCEL, cb=self._on_cancel)
        self._service = await add_service(self.nc, name=self._name, version="0.1.0", description=self.description,
                                          queue_group=subjects.QUEUE_GROUP, stats_handler=self._stats)
        for endpoint in endpoints:
            self._metrics[endpoint.name] = Metrics()
            await self._service.add_endpoint(name=endpoint.name, subject=endpoint.subject,
                                             handler=self._spawner(endpoint))
        self.heartbeats.start()
        self._liveness = liveness.keep_fresh()  # for container health checks, when configured

    async def stop(self, *, drain_timeout: float = 20.0) -> None:
        """Take no new requests, let running ones finish for `drain_timeout`, then end the rest
        (a handler that is cancelled tells its client so)."""
        if self._service is not None:
            try:
                await asyncio.wait_for(self._service.stop(), 5.0)
            except Exception:  # the bus is down: there is nothing to unsubscribe from
                log.debug("micro service stop did not finish", exc_info=True)
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=drain_timeout)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.heartbeats.stop()
        if self._liveness is not None:
            self._liveness.cancel()
        if self._cancel_sub is not None:
            try:
                await self._cancel_sub.unsubscribe()
            except bus.BUS_DOWN:
                pass

    def _spawner(self, endpoint: Endpoint) -> Callable[[Request], Awaitable[None]]:
        """Micro handlers run one at a time per endpoint, so each request gets a task of its own."""

        async def spawn(request: Request) -> None:
            task = asyncio.create_task(self._traced(endpoint, request))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        return spawn

    async def _traced(self, endpoint: Endpoint, request: Request) -> None:
        if self._tracer is None:
            return await self._guarded(endpoint, request, None)
        span = self._tracer.start_span(f"{self._name.removeprefix('vivian-')} {endpoint.route}",
                                       kind=SpanKind.SERVER, context=telemetry.parent(request.headers),
                                       attributes={"messaging.system": "nats",
                                                   "messaging.destination.name": endpoint.subject})
        # Current for this task, so a provider's upstream span becomes its child.
        with trace.use_span(span, end_on_exit=False, record_exception=False, set_status_on_exception=False):
            await self._guarded(endpoint, request, span)

    async def _guarded(self, endpoint: Endpoint, request: Request, span: Span | None) -> None:
        loop = asyncio.get_running_loop()
        outcome = Outcome(route=endpoint.route, started=loop.time())
        replier = Replier(request.respond, limit=self._frame_limit)
        # From the start, so the caller hears from us (at worst a heartbeat) within the interval
        # even while the body is fetched or the handler waits before its first frame.
        self.heartbeats.watch(replier)
        try:
            try:
                envelope = decode_envelope(request.data)
            except (msgspec.DecodeError, msgspec.ValidationError):
                log.warning("dropped a malformed envelope on %s", request.subject)
                raise errors.invalid_request("Malformed bus envelope.") from None
            outcome.request_id = envelope.request_id
            if envelope.deadline and time.time() > envelope.deadline:
                # The caller has stopped waiting (it told its client the call failed), or the
                # message sat somewhere past its time: running it now would act on a request that
                # was answered as failed.
                self.heartbeats.forget(replier)
                log.warning("request_id=%s dropped: it reached %s %.1fs after its deadline", envelope.request_id,
                            request.subject, time.time() - envelope.deadline)
                outcome.result = "expired"
                await self._discard_body(envelope)
                return
            envelope = await bus.take_body(self.nc, envelope)
            if endpoint.cancellable:
                outcome.stop = threading.Event()
                self._cancellable[envelope.request_id] = (asyncio.current_task(), outcome)
            await endpoint.handler(envelope, replier, outcome)
        except errors.ApiError as err:
            outcome.failed(err.status, err.code or err.type)
            self._last_error[endpoint.name] = f"{err.status} {err.message}"
            await _try(replier.failure(err))
        except asyncio.CancelledError:
            if outcome.client_gone:  # nobody to tell
                outcome.failed(errors.CLIENT_CLOSED, "client_closed", result="cancelled")
                return
            if outcome.result != "cancelled":  # the service is stopping
                outcome.failed(503, "service_unavailable", result="cancelled")
                await _try(replier.failure(errors.ApiError(
                    503, f"The {self._name.removeprefix('vivian-')} service stopped while answering; retry.",
                    type="server_error", code="service_unavailable")))
            raise
        except bus.BUS_DOWN:
            # The connection dropped mid-answer: the caller has failed the call already (it hears
            # of the drop too), and nothing can reach it now.
            log.warning("request_id=%s: the bus connection dropped while answering", outcome.request_id)
            outcome.failed(503, "service_unavailable")
        except Exception as exc:
            log.exception("request_id=%s failed", outcome.request_id)
            outcome.failed(500, "server_error")
            self._last_error[endpoint.name] = f"500 {type(exc).__name__}"
            await _try(replier.failure(errors.server_error()))
        finally:
            self.heartbeats.forget(replier)
            if outcome.stop is not None:  # work still running in a thread for this request ends too
                outcome.stop.set()
                self._cancellable.pop(outcome.request_id, None)
            # The last frame is only queued for nats-py's flusher task, which writes it in the next
            # event-loop step: reported after that, the log line and the metrics do not delay it.
            if outcome.result != "expired":
                loop.call_soon(report, outcome, self._metrics[endpoint.name], span)

    async def _discard_body(self, envelope: Envelope) -> None:
        if envelope.body_ref:
            try:
                await bus.take_body(self.nc, envelope)
            except Exception:  # the bucket's TTL removes it
                log.debug("could not remove body %s", envelope.body_ref, exc_info=True)

    def answering(self, handler: StructHandler, ctx: Any) -> Handler:
        """A handler for a call that answers one struct: `handler(ctx, envelope)`, its answer sent as
        one `Data` frame (heartbeats go on while it works, as for every handler: see `_guarded`)."""

        async def run(envelope: Envelope, replier: Replier, outcome: Outcome) -> None:
            answer = await handler(ctx, envelope)
            await replier.data(_encode(answer))

        return run

    def answering_all(self, routes: Iterable[Route], ctx: Any) -> list[Endpoint]:
        """An endpoint for each of `routes`, answered with `answering`."""
        return [Endpoint(name, subject, route, self.answering(handler, ctx)) for name, subject, route, handler in routes]

    def _stats(self, stats: EndpointStats) -> dict:
        """micro times the handler, which only starts a task: report what the tasks measured, and
        this endpoint's metrics as the endpoint's `data`."""
        metrics = self._metrics[stats.name]
        count, failed, seconds = metrics.totals()
        stats.num_errors = failed
        stats.last_error = self._last_error.get(stats.name)
        stats.processing_time = int(seconds * 1e9)
        stats.average_processing_time = int(seconds * 1e9 / count) if count else 0
        return msgspec.to_builtins(metrics.snapshot())


async def _try(send: Awaitable[None]) -> None:
    """Send a last frame if the connection still can; a caller that lost it has failed already."""
    try:
        await send
    except bus.BUS_DOWN:
        pass


def decode(decoder: msgspec.json.Decoder, body: msgspec.Raw):
    """The typed request in an envelope's body; a body that does not fit is a 400 naming the field."""
    try:
        return decoder.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError) as err:
        raise errors.from_validation(err) from None
