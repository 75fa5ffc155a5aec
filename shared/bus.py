"""Both ends of a call over NATS.

Caller side (`Caller`): one wildcard inbox subscription per process, demultiplexed by token, so a
request costs one publish and no SUB/UNSUB round trip. Frames for a call land in its own queue.

Service side (`Replier`): sends frames to a request's reply subject; `Heartbeats` keeps silent
calls alive.
"""

import asyncio
import itertools
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable

import msgspec
import nats
from nats.aio.client import Client
from nats.aio.msg import Msg

from shared import buscredentials, errors
from shared.protocol.bus import Blob, Data, Done, Envelope, Failure, Frame, Heartbeat, TokenCounts

log = logging.getLogger(__name__)

encode = msgspec.json.Encoder().encode
decode_frame = msgspec.json.Decoder(Frame).decode
decode_envelope = msgspec.json.Decoder(Envelope).decode

NO_RESPONDERS = "503"


async def connect(url: str, *, name: str, credentials: str = "") -> Client:
    """`credentials`: the path of this process's role credentials (`shared/buscredentials.py`);
    empty for a bus without authentication."""
    return await nats.connect(
        url,
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        connect_timeout=5,
        **buscredentials.connect_options(credentials),
    )


class NoResponders(Exception):
    pass


class _Call:
    """The frames of one call as they arrive. Cheaper than `asyncio.Queue` + `asyncio.wait_for`,
    which in Python 3.11 starts a task for every frame awaited: here a frame costs one future and
    one timer handle, and only when it has not arrived yet."""

    __slots__ = ("msgs", "waiter")

    def __init__(self) -> None:
        self.msgs: deque[Msg] = deque()
        self.waiter: asyncio.Future | None = None

    def put(self, msg: Msg) -> None:
        self.msgs.append(msg)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def get(self, timeout: float) -> Msg:
        if not self.msgs:
            loop = asyncio.get_running_loop()
            self.waiter = loop.create_future()
            timer = loop.call_later(timeout, _expire, self.waiter)
            try:
                await self.waiter
            finally:
                timer.cancel()
                self.waiter = None
        return self.msgs.popleft()


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

    async def stop(self) -> None:
        if self._sub is not None:
            await self._sub.unsubscribe()

    async def _on_msg(self, msg: Msg) -> None:
        call = self._calls.get(msg.subject[len(self._prefix) + 1 :])
        if call is not None:
            call.put(msg)

    async def frames(self, subject: str, envelope: Envelope, *, idle_timeout: float,
                     headers: dict[str, str] | None = None) -> AsyncIterator[Frame]:
        """Publish `envelope` to `subject` (with NATS `headers`, e.g. trace context); yield frames
        until `Done` or `Failure`.

        Raises `NoResponders` when nobody serves `subject` and `TimeoutError` when the service
        stays silent (not even a heartbeat) for `idle_timeout` seconds.
        """
        token = str(next(self._tokens))
        call = self._calls[token] = _Call()
        try:
            await self._nc.publish(subject, encode(envelope), reply=f"{self._prefix}.{token}", headers=headers)
            while True:
                msg = await call.get(idle_timeout)
                if msg.headers and msg.headers.get("Status") == NO_RESPONDERS:
                    raise NoResponders(subject)
                frame = decode_frame(msg.data)
                if isinstance(frame, Heartbeat):
                    continue
                yield frame
                if isinstance(frame, Done | Failure):
                    return
        finally:
            del self._calls[token]

    async def call(self, subject: str, envelope: Envelope, *, idle_timeout: float) -> bytes:
        """A unary call: the body of the single `Data` frame, or the `Failure` raised as `ApiError`."""
        async for frame in self.frames(subject, envelope, idle_timeout=idle_timeout):
            match frame:
                case Data():
                    return bytes(frame.body)
                case Failure():
                    raise errors.ApiError.from_object(frame.status, frame.error)
        raise errors.server_error("The service ended the call without an answer.")


class Replier:
    """Sends frames back to one caller; `send` publishes to the request's reply subject
    (nats-py micro's `Request.respond`)."""

    def __init__(self, send: Callable[[bytes], Awaitable[None]]) -> None:
        self._send_bytes = send
        self._loop = asyncio.get_running_loop()
        self.last_sent = self._loop.time()

    async def _send(self, frame: Frame) -> None:
        self.last_sent = self._loop.time()
        await self._send_bytes(encode(frame))

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
