"""The one interface every audio provider implements.

A model serves one API (`speech`, or `transcriptions`/`translations`), so its provider implements
the methods of that API; the service gives it only requests of its API. Failures are raised as
`shared.errors.ApiError`.
"""

import threading
from collections.abc import AsyncIterator
from typing import Literal, Protocol

from shared.protocol.audio import SpeechRequest, TranscriptionRequest

Task = Literal["transcribe", "translate"]


class AudioProvider(Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def speak(self, request: SpeechRequest, *, raw: bytes, request_id: str = "",
                    ) -> tuple[str, AsyncIterator[bytes]]:
        """`/v1/audio/speech`: the content type, and the audio in pieces (`raw`: the client's body)."""

    async def transcribe(self, request: TranscriptionRequest, audio: bytes, *, task: Task,
                         cancelled: threading.Event, request_id: str = "") -> tuple[str, bytes]:
        """A transcription or translation: its content type and body."""

    def stream(self, request: TranscriptionRequest, audio: bytes, *, task: Task,
               cancelled: threading.Event, request_id: str = "") -> AsyncIterator[bytes]:
        """A transcription as its events (`transcript.text.delta`…, `transcript.text.done`)."""
