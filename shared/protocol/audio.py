"""`/v1/audio/speech` (the answer is the audio file itself), `/v1/audio/transcriptions` and
`/v1/audio/translations`."""

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


# /v1/audio/transcriptions and /v1/audio/translations. The edge stores the form's file in the
# bus's object store and sends its name; the typed fields, and every text field as sent (for
# upstreams, which get the form again), ride the envelope.
ResponseFormat = Literal["json", "text", "srt", "verbose_json", "vtt"]


class AudioObject(Struct, kw_only=True):
    name: str  # in the `shared.subjects.AUDIO_BUCKET` object store
    filename: str
    size: int
    content_type: str = "application/octet-stream"


class TranscriptionRequest(Struct, kw_only=True, omit_defaults=True):
    model: str
    file: AudioObject
    language: str | None = None
    prompt: str | None = None
    response_format: ResponseFormat = "json"
    temperature: Annotated[float, Meta(ge=0.0, le=1.0)] = 0.0
    timestamp_granularities: list[Literal["word", "segment"]] = []
    stream: bool = False
    include: list[Literal["logprobs"]] = []
    chunking_strategy: str | dict | None = None  # accepted; the local models read the audio whole
    fields: list[tuple[str, str]] = []  # the form's text fields in order, as the client sent them


class TranscriptionWord(Struct, kw_only=True):
    word: str
    start: float
    end: float


class TranscriptionSegment(Struct, kw_only=True):
    id: int
    seek: int
    start: float
    end: float
    text: str
    tokens: list[int]
    temperature: float
    avg_logprob: float
    compression_ratio: float
    no_speech_prob: float


class UsageDuration(Struct, kw_only=True, tag="duration", tag_field="type"):
    seconds: float


class InputTokenDetails(Struct, kw_only=True):
    text_tokens: int
    audio_tokens: int


class UsageTokens(Struct, kw_only=True, tag="tokens", tag_field="type"):
    input_tokens: int
    output_tokens: int
    total_tokens: int
    input_token_details: InputTokenDetails


class Transcription(Struct, kw_only=True, omit_defaults=True):
    """`json`: CreateTranscriptionResponseJson (and CreateTranslationResponseJson, without usage)."""

    text: str
    usage: UsageDuration | None = None


class TranscriptionVerbose(Struct, kw_only=True, omit_defaults=True):
    """`verbose_json`: CreateTranscriptionResponseVerboseJson / CreateTranslationResponseVerboseJson."""

    task: Literal["transcribe", "translate"]
    language: str
    duration: float
    text: str
    words: list[TranscriptionWord] | None = None
    segments: list[TranscriptionSegment] | None = None
    usage: UsageDuration | None = None


class TranscriptTextDelta(Struct, kw_only=True, tag="transcript.text.delta", tag_field="type"):
    delta: str


class TranscriptTextDone(Struct, kw_only=True, omit_defaults=True, tag="transcript.text.done", tag_field="type"):
    text: str
    usage: UsageTokens | None = None


class SpeechAudioDelta(Struct, kw_only=True, tag="speech.audio.delta", tag_field="type"):
    """A piece of the encoded audio file, when `stream_format` is `sse`."""

    audio: str  # base64


class SpeechUsage(Struct, kw_only=True):
    input_tokens: int
    output_tokens: int
    total_tokens: int


class SpeechAudioDone(Struct, kw_only=True, tag="speech.audio.done", tag_field="type"):
    usage: SpeechUsage
