"""The load generator of `bench/overhead.py`: C keep-alive HTTP/1.1 connections, a fixed count of
requests, latency of each, and for SSE answers the arrival time of every `data:` event.

A raw asyncio protocol rather than aiohttp's client: the client runs on the same 2 cores as the
gateway it measures, and aiohttp's client costs ~0.2 ms of CPU per request, which would be taken
from the gateway. This one costs a few tens of microseconds.
"""

import asyncio
import statistics
import time
from dataclasses import dataclass, field


def request_bytes(port: int, path: str, body: bytes, *, key: str) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body


@dataclass(slots=True)
class Response:
    status: int = 0
    body: bytearray = field(default_factory=bytearray)
    events: list[float] = field(default_factory=list)  # arrival times of `data:` events but [DONE]
    done_event: bool = False


class Connection(asyncio.Protocol):
    """One keep-alive connection carrying one request at a time."""

    def __init__(self) -> None:
        self._transport: asyncio.Transport | None = None
        self._buf = bytearray()
        self._waiter: asyncio.Future | None = None
        self._resp = Response()
        self._length = -1  # Content-Length, or -1 while reading headers, or -2 for chunked
        self._sse = bytearray()

    def connection_made(self, transport) -> None:
        self._transport = transport

    def connection_lost(self, exc) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(ConnectionError("connection closed mid-answer"))

    async def send(self, raw: bytes) -> Response:
        self._waiter = asyncio.get_running_loop().create_future()
        self._resp, self._length, self._sse = Response(), -1, bytearray()
        self._transport.write(raw)
        return await self._waiter

    def close(self) -> None:
        self._transport.close()

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        self._buf += data
        if self._length == -1:
            end = self._buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self._buf[:end]).lower()
            del self._buf[: end + 4]
            self._resp.status = int(head[9:12])
            self._length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name == b"content-length":
                    self._length = int(value)
                elif name == b"transfer-encoding" and b"chunked" in value:
                    self._length = -2
        if self._length >= 0:
            if len(self._buf) >= self._length:
                self._resp.body += self._buf[: self._length]
                del self._buf[: self._length]
                self._finish()
        else:
            self._chunks(now)

    def _chunks(self, now: float) -> None:
        while True:
            line_end = self._buf.find(b"\r\n")
            if line_end < 0:
                return
            size = int(self._buf[:line_end], 16)
            if len(self._buf) < line_end + 2 + size + 2:
                return
            data = self._buf[line_end + 2: line_end + 2 + size]
            del self._buf[: line_end + 2 + size + 2]
            if size == 0:
                self._finish()
                return
            self._sse += data
            while (cut := self._sse.find(b"\n\n")) >= 0:
                event = bytes(self._sse[:cut])
                del self._sse[: cut + 2]
                if event == b"data: [DONE]":
                    self._resp.done_event = True
                elif event.startswith(b"data: "):
                    self._resp.events.append(now)
                    self._resp.body = bytearray(event)  # keep the last one, for checks

    def _finish(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(self._resp)


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)  # seconds, request sent → answer complete
    first_event: list[float] = field(default_factory=list)  # seconds, request sent → first `data:`
    mean_gaps: list[float] = field(default_factory=list)  # seconds, per stream: mean time between events
    errors: int = 0
    wall: float = 0.0

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.wall if self.wall else 0.0

    def pct(self, values: list[float], q: float) -> float:
        if not values:
            return float("nan")
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    @property
    def mean_gap(self) -> float:
        return statistics.fmean(self.mean_gaps) if self.mean_gaps else float("nan")


def _check(resp: Response, *, stream: bool, events: int, expect: bytes) -> bool:
    if resp.status != 200:
        return False
    if stream:
        return resp.done_event and len(resp.events) == events
    return expect in resp.body


async def run(port: int, raw: bytes, *, concurrency: int, count: int, stream: bool, events: int = 0,
              timeout: float = 30.0, expect: bytes = b'"choices"') -> Result:
    """Send `raw` `count` times over `concurrency` connections; `events` is how many `data:`
    events (before `[DONE]`) a correct stream has; a correct plain answer contains `expect`."""
    loop = asyncio.get_running_loop()
    conns = [(await loop.create_connection(Connection, "127.0.0.1", port))[1] for _ in range(concurrency)]
    result = Result()
    left = count

    async def worker(conn: Connection) -> None:
        nonlocal left
        while left > 0:
            left -= 1
            started = time.perf_counter()
            try:
                async with asyncio.timeout(timeout):
                    resp = await conn.send(raw)
            except (TimeoutError, ConnectionError):
                result.errors += 1
                conn.close()
                conn = (await loop.create_connection(Connection, "127.0.0.1", port))[1]
                continue
            ended = time.perf_counter()
            if not _check(resp, stream=stream, events=events, expect=expect):
                result.errors += 1
                continue
            result.latencies.append(ended - started)
            if stream:
                result.first_event.append(resp.events[0] - started)
                if len(resp.events) > 1:
                    result.mean_gaps.append((resp.events[-1] - resp.events[0]) / (len(resp.events) - 1))
        conn.close()

    began = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in conns))
    result.wall = time.perf_counter() - began
    return result
