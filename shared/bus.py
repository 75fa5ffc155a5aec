"""Both ends of a call over NATS.

Caller side (`Caller`): one wildcard inbox subscription per process, demultiplexed by token, so a
request costs one publish and no SUB/UNSUB round trip. Frames for a call land in its own queue.

Service side (`Replier`): sends frames to a request's reply subject.
"""

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable

import msgspec
import nats
from nats.aio.client import Client
from nats.aio.msg import Msg

from shared import errors
from shared.protocol.bus import Data, Done, Envelope, Failure, Frame, Heartbeat

log = logging.getLogger(__name__)

encode = msgspec.json.Encoder().encode
decode_frame = msgspec.json.Decoder(Frame).decode
decode_envelope = msgspec.json.Decoder(Envelope).decode

NO_RESPONDERS = "503"


async def connect(url: str, *, name: str) -> Client:
    return await nats.connect(
        url,
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        connect_timeout=5,
    )


class NoResponders(Exception):
    pass


class Caller:
    """Sends envelopes and yields the frames that come back."""

    def __init__(self, nc: Client) -> None:
        self._nc = nc
        self._prefix = f"_INBOX.{nc.new_inbox().rsplit('.', 1)[-1]}"
        self._calls: dict[str, asyncio.Queue[Msg]] = {}
        self._sub = None

    async def start(self) -> None:
        self._sub = await self._nc.subscribe(f"{self._prefix}.*", cb=self._on_msg, pending_msgs_limit=-1, pending_bytes_limit=-1)

    async def stop(self) -> None:
        if self._sub is not None:
            await self._sub.unsubscribe()

    async def _on_msg(self, msg: Msg) -> None:
        queue = self._calls.get(msg.subject[len(self._prefix) + 1 :])
        if queue is not None:
            queue.put_nowait(msg)

    async def frames(self, subject: str, envelope: Envelope, *, idle_timeout: float) -> AsyncIterator[Frame]:
        """Publish `envelope` to `subject`; yield frames until `Done` or `Failure`.

        Raises `NoResponders` when nobody serves `subject` and `asyncio.TimeoutError` when the
        service stays silent (not even a heartbeat) for `idle_timeout` seconds.
        """
        token = secrets.token_hex(8)
        queue: asyncio.Queue[Msg] = asyncio.Queue()
        self._calls[token] = queue
        try:
            await self._nc.publish(subject, encode(envelope), reply=f"{self._prefix}.{token}")
            while True:
                msg = await asyncio.wait_for(queue.get(), idle_timeout)
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
        self.last_sent = asyncio.get_running_loop().time()

    async def _send(self, frame: Frame) -> None:
        self.last_sent = asyncio.get_running_loop().time()
        await self._send_bytes(encode(frame))

    async def data(self, body: bytes) -> None:
        await self._send(Data(msgspec.Raw(body)))

    async def done(self) -> None:
        await self._send(Done())

    async def failure(self, err: errors.ApiError) -> None:
        await self._send(Failure(status=err.status, error=err.to_object()))

    async def heartbeats(self, interval: float) -> None:
        """Run as a task alongside the work: a heartbeat whenever nothing was sent for `interval`."""
        loop = asyncio.get_running_loop()
        while True:
            wait = self.last_sent + interval - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            await self._send(Heartbeat())
