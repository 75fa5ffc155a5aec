"""Any OpenAI-compatible upstream: OpenAI, Azure, vLLM, Ollama, llama.cpp, OpenRouter, another Vivian.

Every domain's upstream provider (chat, embeddings, audio, images) and the jobs service's
fine-tuning calls go through `Upstream`: one keep-alive connection pool per upstream with its key,
and one mapping of what goes wrong to `ApiError` (the upstream's own error status and object, or
502 `upstream_unreachable` when the connection fails, also while a body is read). With tracing on,
each call is a client span whose context goes upstream in `traceparent`.
"""

import contextlib
import os
from collections.abc import AsyncIterator
from typing import Self

import aiohttp
import msgspec
from opentelemetry.trace import SpanKind, Tracer
from yarl import URL

from shared import errors, telemetry
from shared.modelconfig import OpenAIModel
from shared.protocol.errors import ErrorResponse

_decode_body = msgspec.json.Decoder(dict).decode
_decode_error = msgspec.json.Decoder(ErrorResponse).decode
_encode = msgspec.json.Encoder().encode
_CONNECTION_ERRORS = (aiohttp.ClientConnectionError, OSError, TimeoutError)


class Upstream:
    """One upstream of the model config; `start` (or `async with`) opens its pool, `close` ends it.

    A domain's upstream provider subclasses it and adds that domain's provider methods, each a
    few lines over `post`, `post_stream` or `request`."""

    def __init__(self, entry: OpenAIModel, *, tracer: Tracer | None = None) -> None:
        self.entry = entry
        self.model = entry.upstream_model or entry.id  # the model id sent upstream
        self._base = entry.base_url.rstrip("/")
        # Parsed once per path: yarl parsing a URL string costs more than the rest of building the request.
        self._urls: dict[str, URL] = {}
        self._tracer = tracer
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        key = os.environ.get(self.entry.api_key_env) if self.entry.api_key_env else None
        self._session = session(timeout=aiohttp.ClientTimeout(total=None, sock_connect=10,
                                                              sock_read=self.entry.timeout), api_key=key)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    def json_body(self, raw: bytes) -> bytes:
        """The client's JSON body as it came, every field included, only `model` the upstream's."""
        body = _decode_body(raw)
        body["model"] = self.model
        return _encode(body)

    async def post(self, path: str, body: bytes | aiohttp.FormData, *, request_id: str) -> bytes:
        """POST `body` (JSON bytes, or a form); the answer's bytes as the upstream sent them."""
        async with self.request("POST", path, request_id=request_id, **_payload(body)) as resp:
            return await resp.read()

    async def post_stream(self, path: str, body: bytes | aiohttp.FormData, *,
                          request_id: str) -> AsyncIterator[bytes]:
        """POST `body`; the `data:` payloads of the upstream's SSE answer."""
        async with self.request("POST", path, request_id=request_id, **_payload(body)) as resp:
            async for data in sse_data(resp):
                yield data

    @contextlib.asynccontextmanager
    async def request(self, method: str, path: str, *, request_id: str = "", headers: dict | None = None,
                      **kwargs) -> AsyncIterator[aiohttp.ClientResponse]:
        """One call (`kwargs` as for aiohttp's `request`), its response open while the block runs;
        an error status is raised as the upstream's `ApiError` before the block."""
        if self._session is None:
            raise errors.service_unavailable("upstream")
        url = self._urls.get(path) or self._urls.setdefault(path, URL(f"{self._base}/{path}"))
        headers = {**(headers or {}), "X-Request-Id": request_id} if request_id else dict(headers or {})
        span = None
        if self._tracer is not None:  # the service's span is current: this one becomes its child
            span = self._tracer.start_span(f"{method} {url.path}", kind=SpanKind.CLIENT, attributes={
                "http.request.method": method, "url.full": str(url), "server.address": url.host or "",
                telemetry.MODEL: self.model, telemetry.REQUEST_ID: request_id})
            headers |= telemetry.headers(span)
        status, error = 0, ""
        try:
            async with self._session.request(method, url, headers=headers, **kwargs) as resp:
                status = resp.status
                if status >= 400:
                    raise upstream_error(status, await resp.read())
                yield resp
        except _CONNECTION_ERRORS as err:  # also mid-body
            status, error = status or 502, type(err).__name__
            raise unreachable(err) from None
        finally:
            if span is not None:
                telemetry.finish(span, status=status, error=error, error_from=400)


def _payload(body: bytes | aiohttp.FormData) -> dict:
    if isinstance(body, bytes):
        return {"data": body, "headers": {"Content-Type": "application/json"}}
    return {"data": body}  # aiohttp writes the multipart Content-Type with its boundary


def session(*, timeout: aiohttp.ClientTimeout, api_key: str | None = None) -> aiohttp.ClientSession:
    """A keep-alive connection pool for calls to an upstream, its key (if any) in every request."""
    return aiohttp.ClientSession(
        headers={"Authorization": f"Bearer {api_key}"} if api_key else {},
        timeout=timeout,
        connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=60),
        # Cookies an upstream sets must not ride along on other clients' requests.
        cookie_jar=aiohttp.DummyCookieJar(),
    )


async def sse_data(resp: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    """The `data:` payloads of an SSE answer, up to `[DONE]`. Whatever has arrived is split into
    lines here: reading line by line costs two reads (the `data:` line and the blank one) and their
    bookkeeping per chunk."""
    rest = b""
    async for received in resp.content.iter_any():
        *lines, rest = (rest + received).split(b"\n")
        for line in lines:
            if (data := _data(line)) is _DONE:
                return
            if data is not None:
                yield data
    if (data := _data(rest)) is not None and data is not _DONE:
        yield data


_DONE = b"[DONE]"


def _data(line: bytes) -> bytes | None:
    """The payload of an SSE `data:` line; None for blank separators, comments and `event:` lines."""
    if not line.startswith(b"data:"):
        return None
    data = line[5:].strip()
    if data == _DONE:
        return _DONE
    if data.lstrip(b"{ ").startswith(b'"error"'):
        raise upstream_error(502, data)
    return data


def unreachable(err: Exception) -> errors.ApiError:
    return errors.ApiError(502, f"The upstream model server could not be reached: {type(err).__name__}.",
                           type="server_error", code="upstream_unreachable")


def upstream_error(status: int, body: bytes) -> errors.ApiError:
    """The upstream's error object with its status, or a message with the start of what it sent."""
    try:
        return errors.ApiError.from_object(status, _decode_error(body).error)
    except (msgspec.DecodeError, msgspec.ValidationError):
        text = body[:200].decode("utf-8", "replace")
        return errors.ApiError(status, f"The upstream model server answered {status}: {text}",
                               type="server_error" if status >= 500 else "invalid_request_error")
