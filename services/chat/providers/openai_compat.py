"""Any OpenAI-compatible upstream: OpenAI, Azure, vLLM, Ollama, llama.cpp, OpenRouter, another Vivian.

The client's body goes upstream as sent, every field included, with only `model` swapped for the
upstream's id. Answers and stream chunks come back as the upstream's bytes; upstream errors keep
the upstream's status and error object.

One connection pool per upstream, kept alive between requests. With tracing on, each call is a
client span whose context goes upstream in `traceparent`.
"""

import contextlib
import os
from collections.abc import AsyncIterator

import aiohttp
import msgspec
from opentelemetry.trace import SpanKind, Tracer
from yarl import URL

from services.chat.providers.base import ENDPOINTS, Call
from shared import errors, telemetry
from shared.modelconfig import OpenAIModel
from shared.protocol.errors import ErrorResponse

_decode_body = msgspec.json.Decoder(dict).decode
_decode_error = msgspec.json.Decoder(ErrorResponse).decode
_encode = msgspec.json.Encoder().encode


class OpenAICompat:
    def __init__(self, entry: OpenAIModel, *, tracer: Tracer | None = None) -> None:
        self._entry = entry
        base = entry.base_url.rstrip("/")
        # Parsed once: yarl parsing a URL string costs more than the rest of building the request.
        self._urls = {endpoint: URL(f"{base}/{endpoint}") for endpoint in ENDPOINTS}
        self._upstream_model = entry.upstream_model or entry.id
        self._tracer = tracer
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._session = upstream_session(self._entry)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def _body(self, call: Call) -> bytes:
        body = _decode_body(call.raw)
        body["model"] = self._upstream_model
        return _encode(body)

    async def create(self, call: Call) -> bytes:
        async with self._post(call) as resp:
            body = await resp.read()
            if resp.status >= 400:
                raise _upstream_error(resp.status, body)
            return body

    async def stream(self, call: Call) -> AsyncIterator[bytes]:
        async with self._post(call) as resp:
            if resp.status >= 400:
                raise _upstream_error(resp.status, await resp.read())
            async for data in sse_data(resp):
                yield data

    @contextlib.asynccontextmanager
    async def _post(self, call: Call) -> AsyncIterator[aiohttp.ClientResponse]:
        if self._session is None:
            raise errors.service_unavailable("upstream")
        url = self._urls[call.endpoint]
        if call.form is not None:  # aiohttp writes the multipart Content-Type with its boundary
            data, headers = call.form(self._upstream_model), {"X-Request-Id": call.request_id}
        else:
            data, headers = self._body(call), {"X-Request-Id": call.request_id, "Content-Type": "application/json"}
        span = None
        if self._tracer is not None:  # the service's span is current: this one becomes its child
            span = self._tracer.start_span(f"POST {url.path}", kind=SpanKind.CLIENT, attributes={
                "http.request.method": "POST", "url.full": str(url), "server.address": url.host or "",
                telemetry.MODEL: self._upstream_model, telemetry.REQUEST_ID: call.request_id})
            headers |= telemetry.headers(span)
        status, error = 0, ""
        try:
            async with self._session.post(url, data=data, headers=headers) as resp:
                status = resp.status
                yield resp
        except (aiohttp.ClientConnectionError, OSError, TimeoutError) as err:  # also mid-stream
            status, error = status or 502, type(err).__name__
            raise _unreachable(err) from None
        finally:
            if span is not None:
                telemetry.finish(span, status=status, error=error, error_from=400)


def upstream_session(entry: OpenAIModel) -> aiohttp.ClientSession:
    """One keep-alive connection pool for an upstream, its key in every request."""
    key = os.environ.get(entry.api_key_env) if entry.api_key_env else None
    return aiohttp.ClientSession(
        headers={"Authorization": f"Bearer {key}"} if key else {},
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=entry.timeout),
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
        raise _upstream_error(502, data)
    return data


def _unreachable(err: Exception) -> errors.ApiError:
    return errors.ApiError(502, f"The upstream model server could not be reached: {type(err).__name__}.",
                           type="server_error", code="upstream_unreachable")


def _upstream_error(status: int, body: bytes) -> errors.ApiError:
    try:
        return errors.ApiError.from_object(status, _decode_error(body).error)
    except (msgspec.DecodeError, msgspec.ValidationError):
        text = body[:200].decode("utf-8", "replace")
        return errors.ApiError(status, f"The upstream model server answered {status}: {text}",
                               type="server_error" if status >= 500 else "invalid_request_error")
