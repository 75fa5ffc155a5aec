"""`/v1/audio/speech` on the local engine: eSpeak NG renders, PyAV encodes, in a worker thread."""

import asyncio
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

from opentelemetry.trace import Tracer

from services.audio import encode
from shared import errors
from shared.modelconfig import LocalSpeechModel
from shared.protocol.audio import SpeechRequest

CHUNK = 64 * 1024  # bytes per bus frame: well under NATS' message limit once base64-encoded


class LocalSpeech:
    def __init__(self, entry: LocalSpeechModel, *, tracer: Tracer | None = None) -> None:
        self.entry = entry
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="speech")
        self._engine = None

    async def start(self) -> None:
        from services.audio.providers.espeak import Espeak

        self._engine = await asyncio.get_running_loop().run_in_executor(self._pool, Espeak)

    async def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def speak(self, request: SpeechRequest, *, raw: bytes = b"", request_id: str = "",
                    ) -> tuple[str, AsyncIterator[bytes]]:
        """The content type, and the encoded audio in pieces. (`raw`, the client's body, is for
        upstreams.)"""
        from services.audio.providers.espeak import SAMPLE_RATE, VOICES

        voice = request.voice if isinstance(request.voice, str) else request.voice.id
        if voice not in VOICES:
            raise errors.invalid_request(f"Invalid value for 'voice': {voice!r}. Supported voices are "
                                         f"{', '.join(VOICES)}.", param="voice", code="invalid_value")
        def render() -> bytes:
            samples = self._engine.synthesize(request.input, voice=voice, speed=request.speed)
            return encode.encode(samples, SAMPLE_RATE, request.response_format)

        audio = await asyncio.get_running_loop().run_in_executor(self._pool, render)

        async def pieces() -> AsyncIterator[bytes]:
            for start in range(0, len(audio), CHUNK):
                yield audio[start : start + CHUNK]

        return encode.CONTENT_TYPES[request.response_format], pieces()
