"""Both ends of a call over NATS.

Caller side (`Caller`): one wildcard inbox subscription per process, demultiplexed by token, so a
request costs one publish and no SUB/UNSUB round trip. Frames for a call land in its own queue.

Service side (`Replier`): sends frames to a request's reply subject; `Heartbeats` keeps silent
calls alive.

No message passes the server's `max_payload`: a request body too large for one message travels in
the `vivian_bodies` object store (`shared.bodystore`), and an answer frame too large is sent as
fragments on the reply subject, each marked with the `Vivian-Fragment` header, which the caller
joins. The connection keeps no reconnect buffer: a request published while NATS is down fails at
once (`BusUnavailable`) instead of being sent, late, after the client was told it failed.
"""

import asyncio
import itertools
import logging
import time
import weakref
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable

import msgspec
import nats
from nats import errors as nats_errors
from nats.aio.client import Client
from nats.aio.msg import Msg

from shared import bodystore, buscredentials, errors
from shared.protocol.bus import Blob, Data, Done, Envelope, Failure, Frame, Heartbeat, TokenCounts

log = logging.getLogger(__name__)

encode = msgspec.json.Encoder().encode
decode_frame = msgspec.json.Decoder(Frame).decode
decode_envelope = msgspec.json.Decoder(Envelope).decode

NO_RESPONDERS = "503"
FRAGMENT = "Vivian-Fragment"  # header of an answer frame's pieces: "more", then "last"
# Room left under `max_payload` for the subject, reply subject and headers of a message.
HEADROOM = 16 * 1024

# Errors of a connection that is down, closed or closing: a publish that could not go out.
BUS_DOWN = (nats_errors.OutboundBufferLimitError, nats_errors.ConnectionClosedError,
            nats_errors.ConnectionDrainingError, nats_errors.ConnectionReconnectingError,
            nats_errors.StaleConnectionError)


# What a connection reports as it drops, just before `disconnected`, which logs the drop.
_CONNECTION_LOST = (nats_errors.UnexpectedEOF, nats_errors.StaleConnectionError, OSError)


class _Watch:
    """A connection's changes of state, logged once each (not once per reconnect attempt), and
    the listeners told when it drops."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.nc: Client | None = None
        self.listeners: list[Callable[[], None]] = []
        self.down_since: float | None = None
        self.last_error = ""

    async def disconnected(self) -> None:
        if self.nc is not None and (self.nc.is_closed or self.nc.is_draining):
            return  # closed on purpose: `closed` says so
        if self.down_since is None:
            self.down_since = time.monotonic()
            log.warning("%s: lost the NATS connection; reconnecting", self.name)
        for listener in list(self.listeners):
            listener()

    async def reconnected(self) -> None:
        down = time.monotonic() - self.down_since if self.down_since is not None else 0.0
        self.down_since, self.last_error = None, ""
        url = self.nc.connected_url if self.nc is not None else None
        log.warning("%s: NATS connection back after %.1fs (%s)", self.name, down,
                    f"{url.hostname}:{url.port}" if url is not None else "?")

    async def error(self, err: Exception) -> None:
        text = f"{type(err).__name__}: {err}"
        if self.down_since is not None or text == self.last_error or isinstance(err, _CONNECTION_LOST):
            log.debug("%s: %s", self.name, text)  # the outage was logged once; so was this error
            return
        self.last_error = text
        log.warning("%s: NATS error: %s", self.name, text)

    async def closed(self) -> None:
        log.info("%s: NATS connection closed", self.name)


_watches: "weakref.WeakKeyDictionary[Client, _Watch]" = weakref.WeakKeyDictionary()


async def connect(url: str, *, name: str, credentials: str = "") -> Client:
    """`credentials`: the path of this process's role credentials (`shared/buscredentials.py`);
    empty for a bus without authentication."""
    watch = _Watch(name)
    nc = await nats.connect(
        url,
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        connect_timeout=5,
        # No reconnect buffer: what is published while the connection is down fails at once
        # rather than going out after the reconnect, when whoever sent it has long given up.
        pending_size=0,
        error_cb=watch.error,
        disconnected_cb=watch.disconnected,
        reconnected_cb=watch.reconnected,
        closed_cb=watch.closed,
        **buscredentials.connect_options(credentials),
    )
    watch.nc = nc
    _watches[nc] = watch
    return nc


def on_disconnect(nc: Client, listener: Callable[[], None]) -> None:
    """Call `listener` each time `nc` (made by `connect`) loses its server."""
    _watches[nc].listeners.append(listener)


async def close(nc: Client, *, timeout: float = 5.0) -> None:
    """Drain `nc` if it is connected (within `timeout`), else just close it: a shutdown must not
    wait for a server that is down."""
    if nc.is_closed:
        return
    if nc.is_connected:
        try:
            await asyncio.wait_for(nc.drain(), timeout)
            return
        except Exception:  # a drain that stalls or fails: closing is all that is left
            log.debug("drain did not finish", exc_info=True)
    try:
        await asyncio.wait_for(nc.close(), timeout)
    except Exception:
        log.debug("close did not finish", exc_info=True)


def frame_limit(nc: Client) -> int:
    """The largest message this connection may send, less room for subjects and headers."""
    return max(nc.max_payload - HEADROOM, 4096)


class NoResponders(Exception):
    pass


class BusUnavailable(NoResponders):
    """The NATS connection is down: the request was not sent, or its answer can no longer come."""


class _Call:
    """The frames of one call as they arrive. Cheaper than `asyncio.Queue` + `asyncio.wait_for`,
    which in Python 3.11 starts a task for every frame awaited: here a frame costs one future and
    one timer handle, and only when it has not arrived yet."""

    __slots__ = ("msgs", "waiter", "error")

    def __init__(self) -> None:
        self.msgs: deque[Msg] = deque()
        self.waiter: asyncio.Future | None = None
        self.error: Exception | None = None

    def put(self, msg: Msg) -> None:
        self.msgs.append(msg)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def fail(self, error: Exception) -> None:
        """No more frames will come: the next `get` that finds none raises `error`."""
        self.error = error
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def get(self, timeout: float) -> Msg:
        if not self.msgs and self.error is None:
            loop = asyncio.get_running_loop()
            self.waiter = loop.create_future()
            timer = loop.call_later(timeout, _expire, self.waiter)
            try:
                await self.waiter
            finally:
                timer.cancel()
                self.waiter = None
        if self.msgs:
            return self.msgs.popleft()
        raise self.error


def _expire(waiter: asyncio.Future) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


class Caller:
    """Sends envelopes and yields the frames that come back."""

    def __init__(self, nc: Client) -> None:
        self._nc = nc
        self._prefix = nc.new_inbox()  # under the role's inbox prefix (`_INBOX.<role>`), if it has one
        self._calls: dict[str, _Call] = {}
        # Tokens only need to be unique under our random prefix: a counter spares a getrandom call.
        self._tokens = itertools.count()
        self._sub = None

    async def start(self) -> None:
        self._sub = await self._nc.subscribe(f"{self._prefix}.*", cb=self._on_msg, pending_msgs_limit=-1, pending_bytes_limit=-1)
        if self._nc in _watches:
            on_disconnect(self._nc, self._drop_all)

    async def stop(self) -> None:
        if self._sub is not None:
            try:
                await self._sub.unsubscribe()
            except BUS_DOWN:
                pass

    async def _on_msg(self, msg: Msg) -> None:
        call = self._calls.get(msg.subject[len(self._prefix) + 1 :])
        if call is not None:
            call.put(msg)

    def _drop_all(self) -> None:
        """The connection dropped: the answers of calls in flight are lost with it, so each fails
        now instead of waiting out its idle timeout."""
        for call in self._calls.values():
            call.fail(BusUnavailable("the NATS connection was lost"))

    async def frames(self, subject: str, envelope: Envelope, *, idle_timeout: float,
                     accept_timeout: float | None = None,
                     headers: dict[str, str] | None = None) -> AsyncIterator[Frame]:
        """Publish `envelope` to `subject` (with NATS `headers`, e.g. trace context); yield frames
        until `Done` or `Failure`.

        The envelope gets a deadline `accept_timeout` seconds away (default `idle_timeout`): a
        service that receives it later drops it. A service that takes it sends a frame (at worst
        a heartbeat) within its heartbeat interval, so the first frame is awaited until the deadline
        plus `idle_timeout`, later frames `idle_timeout` each.

        Raises `NoResponders` when nobody serves `subject`, `BusUnavailable` when the connection
        is down (before or during the call), and `TimeoutError` when the service stays silent.
        """
        if not self._nc.is_connected:
            raise BusUnavailable("the NATS connection is down")
        accept_timeout = idle_timeout if accept_timeout is None else accept_timeout
        envelope.deadline = time.time() + accept_timeout
        token = str(next(self._tokens))
        call = self._calls[token] = _Call()
        try:
            payload = encode(envelope)
            if len(payload) > frame_limit(self._nc):
                payload = await self._by_reference(envelope, token)
            try:
                await self._nc.publish(subject, payload, reply=f"{self._prefix}.{token}", headers=headers)
            except BUS_DOWN:
                raise BusUnavailable("the NATS connection is down") from None
            timeout = accept_timeout + idle_timeout
            pieces: list[bytes] = []
            while True:
                msg = await call.get(timeout)
                timeout = idle_timeout
                data = msg.data
                if msg.headers:
                    if msg.headers.get("Status") == NO_RESPONDERS:
                        raise NoResponders(subject)
                    if (part := msg.headers.get(FRAGMENT)) is not None:
                        pieces.append(data)
                        if part != "last":
                            continue
                        data = b"".join(pieces)
                        pieces.clear()
                frame = decode_frame(data)
                if isinstance(frame, Heartbeat):
                    continue
                yield frame
                if isinstance(frame, Done | Failure):
                    return
        finally:
            del self._calls[token]

    async def _by_reference(self, envelope: Envelope, token: str) -> bytes:
        """The envelope with its body moved to the bodies object store."""
        name = f"{self._prefix.rsplit('.', 1)[-1]}-{token}"
        try:
            await bodystore.put(self._nc.jetstream(), name, bytes(envelope.body))
        except BUS_DOWN:
            raise BusUnavailable("the NATS connection is down") from None
        return encode(msgspec.structs.replace(envelope, body=msgspec.Raw(b"null"), body_ref=name))

    async def call(self, subject: str, envelope: Envelope, *, idle_timeout: float,
                   accept_timeout: float | None = None) -> bytes:
        """A unary call: the body of the single `Data` frame, or the `Failure` raised as `ApiError`."""
        async for frame in self.frames(subject, envelope, idle_timeout=idle_timeout, accept_timeout=accept_timeout):
            match frame:
                case Data():
                    return bytes(frame.body)
                case Failure():
                    raise errors.ApiError.from_object(frame.status, frame.error)
        raise errors.server_error("The service ended the call without an answer.")


async def take_body(nc: Client, envelope: Envelope) -> Envelope:
    """`envelope` with its body in place: read (and removed) from the bodies object store when the
    caller sent it there."""
    if not envelope.body_ref:
        return envelope
    body = await bodystore.take(nc.jetstream(), envelope.body_ref)
    return msgspec.structs.replace(envelope, body=msgspec.Raw(body), body_ref="")


class Replier:
    """Sends frames back to one caller; `send(data, headers)` publishes to the request's reply
    subject (nats-py micro's `Request.respond`). A frame over `limit` bytes goes as fragments."""

    def __init__(self, send: Callable[..., Awaitable[None]], *, limit: int = 1 << 62) -> None:
        self._send_bytes = send
        self._limit = limit
        self._loop = asyncio.get_running_loop()
        self.last_sent = self._loop.time()

    async def _send(self, frame: Frame) -> None:
        self.last_sent = self._loop.time()
        data = encode(frame)
        if len(data) <= self._limit:
            await self._send_bytes(data)
            return
        view = memoryview(data)
        for start in range(0, len(data), self._limit):
            last = start + self._limit >= len(data)
            await self._send_bytes(bytes(view[start : start + self._limit]),
                                   headers={FRAGMENT: "last" if last else "more"})
            self.last_sent = self._loop.time()

    async def data(self, body: bytes, *, usage: TokenCounts | None = None) -> None:
        await self._send(Data(msgspec.Raw(body), usage=usage))

    async def done(self, *, usage: TokenCounts | None = None) -> None:
        await self._send(Done(usage=usage))

    async def blob(self, data: bytes, *, content_type: str = "") -> None:
        await self._send(Blob(data=data, content_type=content_type))

    async def failure(self, err: errors.ApiError) -> None:
        await self._send(Failure(status=err.status, error=err.to_object()))

    async def heartbeat(self) -> None:
        await self._send(Heartbeat())


class Heartbeats:
    """One task for all of a service's running calls: each replier silent for `interval` seconds
    gets a heartbeat (checked every `interval / 2`, so the silence never passes 1.5 × `interval`).
    A task per call would cost a task start and a cancel on every request."""

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._repliers: set[Replier] = set()
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def watch(self, replier: Replier) -> None:
        self._repliers.add(replier)

    def forget(self, replier: Replier) -> None:
        self._repliers.discard(replier)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self._interval / 2)
            due = loop.time() - self._interval
            for replier in [r for r in self._repliers if r.last_sent <= due]:
                try:
                    await replier.heartbeat()
                except Exception:  # a closed connection: the call itself will fail and say so
                    log.debug("heartbeat not sent", exc_info=True)
