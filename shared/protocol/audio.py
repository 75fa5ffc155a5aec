"""`/v1/audio/speech`: the request. (The answer is the audio file itself.)"""

from typing import Annotated, Literal

from msgspec import Meta, Struct


class CustomVoice(Struct, kw_only=True):
    id: str


class SpeechRequest(Struct, kw_only=True, omit_defaults=True):
    model: str
    input: Annotated[str, Meta(min_length=1, max_length=4096)]
    voice: str | CustomVoice
    response_format: Literal["mp3", "opus", "aac", "flac", "wav", "pcm"] = "mp3"
    speed: Annotated[float, Meta(ge=0.25, le=4.0)] = 1.0
    instructions: Annotated[str, Meta(max_length=4096)] | None = None  # accepted; eSpeak takes no direction
    stream_format: Literal["audio", "sse"] = "audio"
