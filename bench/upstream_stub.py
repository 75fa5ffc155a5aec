"""A fast OpenAI-compatible stub upstream for `bench/overhead.py`: canned answers, loopback only.

    .venv/bin/python bench/upstream_stub.py --port 9000 [--chunks 16] [--chunk-interval-ms 1]

`POST …/chat/completions` answers a canned `chat.completion`, or, when the body asks for
`"stream": true`, a canned SSE stream of `--chunks` `chat.completion.chunk` events (the last one
carries `usage`) and `data: [DONE]`: the first at once, then one every `--chunk-interval-ms`
(0: all at once).

It speaks just enough HTTP/1.1 (keep-alive, Content-Length bodies, chunked answers) on a raw
asyncio protocol under uvloop: aiohttp's server costs several times more CPU per request, and on a
2-core machine every microsecond the stub spends is taken from the gateway being measured.
"""

import argparse
import asyncio
import json
import re

import uvloop

_STREAM = re.compile(rb'"stream"\s*:\s*true')
_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.I)
_USAGE = {"prompt_tokens": 12, "completion_tokens": 16, "total_tokens": 28}


def canned_completion() -> bytes:
    body = json.dumps({
        "id": "chatcmpl-stub", "object": "chat.completion", "created": 1730419200, "model": "stub-model",
        "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                     "message": {"role": "assistant", "content": "The capital of France is Paris. " * 3}}],
        "usage": _USAGE,
    }, separators=(",", ":")).encode()
    return (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)) + body


def canned_chunks(count: int) -> list[bytes]:
    """The stream's events, each already framed as one HTTP chunk."""
    events = []
    for i in range(count):
        last = i == count - 1
        delta = {"role": "assistant", "content": "Paris"} if i == 0 else {} if last else {"content": " token"}
        chunk = {"id": "chatcmpl-stub", "object": "chat.completion.chunk", "created": 1730419200,
                 "model": "stub-model",
                 "choices": [{"index": 0, "delta": delta, "finish_reason": "stop" if last else None}]}
        if last:
            chunk["usage"] = _USAGE
        events.append(b"data: " + json.dumps(chunk, separators=(",", ":")).encode() + b"\n\n")
    events.append(b"data: [DONE]\n\n")
    return [b"%x\r\n%s\r\n" % (len(e), e) for e in events]


STREAM_HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n")


class Stub(asyncio.Protocol):
    def __init__(self, completion: bytes, chunks: list[bytes], interval: float) -> None:
        self._completion, self._chunks, self._interval = completion, chunks, interval
        self._buf = bytearray()
        self._transport: asyncio.Transport | None = None
        self._streaming: asyncio.Task | None = None

    def connection_made(self, transport) -> None:
        self._transport = transport

    def connection_lost(self, exc) -> None:
        if self._streaming is not None:
            self._streaming.cancel()

    def data_received(self, data: bytes) -> None:
        self._buf += data
        while self._streaming is None:  # clients wait for an answer before they send again
            end = self._buf.find(b"\r\n\r\n")
            if end < 0:
                return
            found = _LENGTH.search(self._buf, 0, end + 2)
            total = end + 4 + (int(found[1]) if found else 0)
            if len(self._buf) < total:
                return
            streamed = _STREAM.search(self._buf, end + 4, total) is not None
            del self._buf[:total]
            if not streamed:
                self._transport.write(self._completion)
            elif self._interval <= 0:
                self._transport.write(STREAM_HEAD + b"".join(self._chunks) + b"0\r\n\r\n")
            else:
                self._streaming = asyncio.get_running_loop().create_task(self._paced())

    async def _paced(self) -> None:
        # The first chunk goes with the headers: time to first chunk then measures the relay, not
        # the stub's timer (libuv's timers tick in whole milliseconds).
        self._transport.write(STREAM_HEAD + self._chunks[0])
        for chunk in self._chunks[1:]:
            await asyncio.sleep(self._interval)
            self._transport.write(chunk)
        self._transport.write(b"0\r\n\r\n")
        self._streaming = None
        if self._buf:
            self.data_received(b"")


async def serve(port: int, *, chunks: int, interval_ms: float) -> None:
    completion, framed = canned_completion(), canned_chunks(chunks)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Stub(completion, framed, interval_ms / 1000), "127.0.0.1", port,
                                      backlog=1024)
    print(f"stub listening on 127.0.0.1:{port}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--chunks", type=int, default=16)
    parser.add_argument("--chunk-interval-ms", type=float, default=1.0)
    args = parser.parse_args()
    uvloop.run(serve(args.port, chunks=args.chunks, interval_ms=args.chunk_interval_ms))


if __name__ == "__main__":
    main()
