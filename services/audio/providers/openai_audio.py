"""Audio on any OpenAI-compatible upstream (`services/kit/upstream.py`): speech, transcriptions
and translations.

Speech: the client's JSON body goes upstream as sent, only `model` swapped, and the audio streams
back as it comes. Transcriptions and translations: the form is sent again, every text field as
the client sent it (only `model` swapped) and the file's bytes; the answer comes back as the
upstream's bytes (JSON, text, or SSE events when streamed). Upstream errors keep their status and
error object.
"""

import contextlib
import threading
from collections.abc import AsyncIterator

import aiohttp

from services.audio.providers.base import Task
from services.kit.upstream import Upstream
from shared.protocol.audio import SpeechRequest, TranscriptionRequest

CHUNK = 64 * 1024
_PATHS = {"transcribe": "audio/transcriptions", "translate": "audio/translations"}


class OpenAIAudio(Upstream):
    async def speak(self, request: SpeechRequest, *, raw: bytes, request_id: str = "") -> tuple[str, AsyncIterator[bytes]]:
        # The answer stays open after this returns: its pieces are read, and it is closed, by `pieces`.
        answer = contextlib.AsyncExitStack()
        resp = await answer.enter_async_context(self.request(
            "POST", "audio/speech", request_id=request_id, data=self.json_body(raw),
            headers={"Content-Type": "application/json"}))

        async def pieces() -> AsyncIterator[bytes]:
            async with answer:
                async for piece in resp.content.iter_chunked(CHUNK):
                    yield piece

        return resp.headers.get("Content-Type", "application/octet-stream"), pieces()

    def _form(self, request: TranscriptionRequest, audio: bytes) -> aiohttp.FormData:
        form = aiohttp.FormData()
        for name, value in request.fields:
            form.add_field(name, self.model if name == "model" else value)
        form.add_field("file", audio, filename=request.file.filename, content_type=request.file.content_type)
        return form

    async def transcribe(self, request: TranscriptionRequest, audio: bytes, *, task: Task,
                         cancelled: threading.Event, request_id: str = "") -> tuple[str, bytes]:
        async with self.request("POST", _PATHS[task], request_id=request_id, data=self._form(request, audio)) as resp:
            return resp.headers.get("Content-Type", "application/json"), await resp.read()

    def stream(self, request: TranscriptionRequest, audio: bytes, *, task: Task,
               cancelled: threading.Event, request_id: str = "") -> AsyncIterator[bytes]:
        return self.post_stream(_PATHS[task], self._form(request, audio), request_id=request_id)
