"""Any OpenAI-compatible upstream: OpenAI, Azure, vLLM, Ollama, llama.cpp, OpenRouter, another Vivian.

The client's body goes upstream as sent, every field included, with only `model` swapped for the
upstream's id. Answers and stream chunks come back as the upstream's bytes; upstream errors keep
the upstream's status and error object.
"""

import contextlib
import os
from collections.abc import AsyncIterator

import aiohttp
import msgspec

from services.chat.providers.base import Call
from shared import errors
from shared.modelconfig import OpenAIModel
from shared.protocol.errors import ErrorResponse

_decode_body = msgspec.json.Decoder(dict).decode
_decode_error = msgspec.json.Decoder(ErrorResponse).decode
_encode = msgspec.json.Encoder().encode


class OpenAICompat:
    def __init__(self, entry: OpenAIModel) -> None:
        self._entry = entry
        self._base = entry.base_url.rstrip("/")
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self._entry.api_key_env) if self._entry.api_key_env else None
        if key:
            headers["Authorization"] = f"Bearer {key}"
        self._session = aiohttp.ClientSession(
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=self._entry.timeout),
            connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=60),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def _body(self, call: Call) -> bytes:
        body = _decode_body(call.raw)
        body["model"] = self._entry.upstream_model or self._entry.id
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
            async for line in resp.content:
                if not line.startswith(b"data:"):
                    continue  # blank separators, comments, `event:` lines
                data = line[5:].strip()
                if data == b"[DONE]":
                    return
                if data.lstrip(b"{ ").startswith(b'"error"'):
                    raise _upstream_error(502, data)
                yield data

    @contextlib.asynccontextmanager
    async def _post(self, call: Call) -> AsyncIterator[aiohttp.ClientResponse]:
        if self._session is None:
            raise errors.service_unavailable("upstream")
        try:
            async with self._session.post(f"{self._base}/{call.endpoint}", data=self._body(call),
                                          headers={"X-Request-Id": call.request_id}) as resp:
                yield resp
        except (aiohttp.ClientConnectionError, OSError, TimeoutError) as err:  # also mid-stream
            raise _unreachable(err) from None


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
