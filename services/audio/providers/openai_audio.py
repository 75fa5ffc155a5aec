"""Audio on any OpenAI-compatible upstream: speech, transcriptions and translations.

Speech: the client's JSON body goes upstream as sent, only `model` swapped, and the audio streams
back as it comes. Transcriptions and translations: the form is sent again, every text field as
the client sent it (only `model` swapped) and the file's bytes; the answer comes back as the
upstream's bytes (JSON, text, or SSE events when streamed). Upstream errors keep their status and
error object.
"""

import threading
from collections.abc import AsyncIterator

import aiohttp
import msgspec
from yarl import URL

from services.chat.providers.openai_compat import _unreachable, _upstream_error, sse_data, upstream_session
from shared import errors
from shared.modelconfig import OpenAIModel
from shared.protocol.audio import SpeechRequest, TranscriptionRequest

_decode_body = msgspec.json.Decoder(dict).decode
_encode = msgspec.json.Encoder().encode
CHUNK = 64 * 1024
_PATHS = {"transcribe": "audio/transcriptions", "translate": "audio/translations"}


class OpenAIAudio:
    def __init__(self, entry: OpenAIModel) -> None:
        self.entry = entry
        base = entry.base_url.rstrip("/")
        self._urls = {path: URL(f"{base}/{path}") for path in ("audio/speech", *_PATHS.values())}
        self._upstream_model = entry.upstream_model or entry.id
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._session = upstream_session(self.entry)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def _post(self, path: str, *, request_id: str, headers: dict | None = None, **kwargs) -> aiohttp.ClientResponse:
        if self._session is None:
            raise errors.service_unavailable("upstream")
        try:
            resp = await self._session.post(self._urls[path], headers={"X-Request-Id": request_id, **(headers or {})},
                                            **kwargs)
        except (aiohttp.ClientConnectionError, OSError, TimeoutError) as err:
            raise _unreachable(err) from None
        if resp.status >= 400:
            async with resp:
                raise _upstream_error(resp.status, await resp.read())
        return resp

    async def speak(self, request: SpeechRequest, *, raw: bytes, request_id: str = "") -> tuple[str, AsyncIterator[bytes]]:
        body = _decode_body(raw)
        body["model"] = self._upstream_model
        resp = await self._post("audio/speech", request_id=request_id, data=_encode(body),
                                headers={"Content-Type": "application/json"})

        async def pieces() -> AsyncIterator[bytes]:
            async with resp:
                try:
                    async for piece in resp.content.iter_chunked(CHUNK):
                        yield piece
                except (aiohttp.ClientConnectionError, OSError, TimeoutError) as err:
                    raise _unreachable(err) from None

        return resp.headers.get("Content-Type", "application/octet-stream"), pieces()

    def _form(self, request: TranscriptionRequest, audio: bytes) -> aiohttp.FormData:
        form = aiohttp.FormData()
        for name, value in request.fields:
            form.add_field(name, self._upstream_model if name == "model" else value)
        form.add_field("file", audio, filename=request.file.filename, content_type=request.file.content_type)
        return form

    async def transcribe(self, request: TranscriptionRequest, audio: bytes, *, task: str,
                         cancelled: threading.Event, request_id: str = "") -> tuple[str, bytes]:
        resp = await self._post(_PATHS[task], request_id=request_id, data=self._form(request, audio))
        async with resp:
            return resp.headers.get("Content-Type", "application/json"), await resp.read()

    async def stream(self, request: TranscriptionRequest, audio: bytes, *, task: str,
                     cancelled: threading.Event, request_id: str = "") -> AsyncIterator[bytes]:
        resp = await self._post(_PATHS[task], request_id=request_id, data=self._form(request, audio))
        async with resp:
            async for data in sse_data(resp):
                yield data
