"""`/v1/audio/speech` with `stream_format: "sse"`: the encoded audio as OpenAI's server-sent events,
`speech.audio.delta` (a base64 piece of the file) and then `speech.audio.done` (usage).

The events go to the edge as the bytes of the SSE body (binary `Blob` frames, as an upstream's own
event stream is relayed), so the client gets exactly OpenAI's stream, with no `[DONE]` line after it.
"""

import base64
from collections.abc import AsyncIterator

import msgspec

from shared.protocol.audio import SpeechAudioDelta, SpeechAudioDone, SpeechUsage

CONTENT_TYPE = "text/event-stream"
_encode = msgspec.json.Encoder().encode


def _event(event: msgspec.Struct) -> bytes:
    return b"data: " + _encode(event) + b"\n\n"


async def events(pieces: AsyncIterator[bytes], text: str) -> AsyncIterator[bytes]:
    """eSpeak has no tokens: usage counts the input's characters in, nothing out (as OpenAI bills
    its `tts-1` voices by character)."""
    async for piece in pieces:
        yield _event(SpeechAudioDelta(audio=base64.b64encode(piece).decode()))
    yield _event(SpeechAudioDone(usage=SpeechUsage(input_tokens=len(text), output_tokens=0, total_tokens=len(text))))
