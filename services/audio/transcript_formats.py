"""A finished transcript in each of OpenAI's `response_format`s: json, text, srt, verbose_json, vtt."""

import math
from dataclasses import dataclass, field

import msgspec

from services.audio.languages import NAMES
from shared.protocol.audio import (
    ResponseFormat,
    Transcription,
    TranscriptionSegment,
    TranscriptionVerbose,
    TranscriptionWord,
    UsageDuration,
)

_encode = msgspec.json.Encoder().encode
JSON = "application/json"
TEXT = "text/plain; charset=utf-8"


@dataclass(slots=True, kw_only=True)
class Transcript:
    task: str  # "transcribe" or "translate"
    language: str  # Whisper's code: "en"
    duration: float  # seconds of audio
    segments: list[TranscriptionSegment] = field(default_factory=list)
    words: list[TranscriptionWord] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(s.text for s in self.segments).strip()


def render(transcript: Transcript, fmt: ResponseFormat, *, granularities: list[str]) -> tuple[str, bytes]:
    """The answer's content type and body."""
    usage = UsageDuration(seconds=float(math.ceil(transcript.duration)))
    match fmt:
        case "json":
            # OpenAI's translations answer carries no usage.
            return JSON, _encode(Transcription(text=transcript.text,
                                               usage=usage if transcript.task == "transcribe" else None))
        case "text":
            return TEXT, (transcript.text + "\n").encode()
        case "srt":
            return TEXT, _cues(transcript, srt=True).encode()
        case "vtt":
            return TEXT, ("WEBVTT\n\n" + _cues(transcript, srt=False)).encode()
        case "verbose_json":
            segments = transcript.segments if "segment" in granularities or not granularities else None
            words = transcript.words if "word" in granularities else None
            return JSON, _encode(TranscriptionVerbose(
                task=transcript.task, language=NAMES.get(transcript.language, transcript.language),
                duration=round(transcript.duration, 3), text=transcript.text, segments=segments, words=words,
                usage=usage if transcript.task == "transcribe" else None))
    raise ValueError(fmt)


def _cues(transcript: Transcript, *, srt: bool) -> str:
    cues = []
    for number, seg in enumerate(transcript.segments, 1):
        times = f"{_timestamp(seg.start, srt=srt)} --> {_timestamp(seg.end, srt=srt)}"
        cues.append(f"{number}\n{times}\n{seg.text.strip()}\n" if srt else f"{times}\n{seg.text.strip()}\n")
    return "\n".join(cues)


def _timestamp(seconds: float, *, srt: bool) -> str:
    ms = round(seconds * 1000)
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    secs, ms = divmod(ms, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{',' if srt else '.'}{ms:03d}"
