"""`/v1/audio/transcriptions` and `/v1/audio/translations` on a local Whisper model, run by
faster-whisper (CTranslate2) in a worker thread of its own, one request at a time.

The audio is decoded by PyAV (every format OpenAI takes), resampled to 16 kHz mono. Segments come
out of the model one 30-second window at a time: a stream sends each as a delta as soon as it is
decoded, and a cancelled request stops at the next window.
"""

import asyncio
import io
import math
import os
import shutil
import threading
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor

import msgspec
from opentelemetry.trace import Tracer

from services.audio.transcript_formats import Transcript, render
from shared import errors
from shared.modelconfig import LocalTranscriptionModel
from shared.protocol.audio import (
    InputTokenDetails,
    TranscriptionRequest,
    TranscriptionSegment,
    TranscriptionWord,
    TranscriptTextDelta,
    TranscriptTextDone,
    UsageTokens,
)

SAMPLE_RATE = 16000
AUDIO_TOKENS_PER_SECOND = 50  # Whisper's encoder: 1500 positions per 30-second window
_encode = msgspec.json.Encoder().encode
_END = object()


class Cancelled(Exception):
    pass


def model_dir(entry: LocalTranscriptionModel) -> str:
    """The model's directory; a model shipped in parts is joined once into `cache_dir`."""
    if not entry.parts:
        return entry.path
    size = sum(os.path.getsize(p) for p in entry.parts)
    target = os.path.join(os.path.expanduser(entry.cache_dir), f"{entry.id}-{size}")
    if os.path.exists(os.path.join(target, "model.bin")) and os.path.getsize(os.path.join(target, "model.bin")) == size:
        return target
    os.makedirs(target, exist_ok=True)
    for name in os.listdir(entry.path):
        if ".part" not in name and name != "model.bin" and os.path.isfile(os.path.join(entry.path, name)):
            shutil.copyfile(os.path.join(entry.path, name), os.path.join(target, name))
    partial = os.path.join(target, f"model.bin.{os.getpid()}.tmp")
    with open(partial, "wb") as out:
        for part in entry.parts:
            with open(part, "rb") as f:
                shutil.copyfileobj(f, out, 1024 * 1024)
    os.replace(partial, os.path.join(target, "model.bin"))  # whole or absent, even with two replicas
    return target


def decode(audio: bytes):
    """float32 mono 16 kHz samples; audio PyAV cannot read is the client's 400."""
    import av
    from faster_whisper import decode_audio

    try:
        samples = decode_audio(io.BytesIO(audio), sampling_rate=SAMPLE_RATE)
    except (av.error.FFmpegError, ValueError, IndexError, StopIteration) as err:
        raise errors.invalid_request(f"Audio file might be corrupted or unsupported: {type(err).__name__}.",
                                     param="file", code="invalid_value") from None
    if samples.size == 0:
        raise errors.invalid_request("The audio file holds no audio.", param="file", code="invalid_value")
    return samples


class LocalWhisper:
    def __init__(self, entry: LocalTranscriptionModel, *, tracer: Tracer | None = None) -> None:
        self.entry = entry
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"whisper-{entry.id}")
        self._model = None

    async def start(self) -> None:
        self._model = await asyncio.get_running_loop().run_in_executor(self._pool, self._load)

    def _load(self):
        from faster_whisper import WhisperModel

        return WhisperModel(model_dir(self.entry), device="cpu", compute_type=self.entry.compute_type,
                            cpu_threads=self.entry.threads)

    async def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _check(self, request: TranscriptionRequest, task: str) -> None:
        model = self._model
        if task == "translate" and not model.model.is_multilingual:
            raise errors.invalid_request(f"The model `{request.model}` is English-only and cannot translate; use a "
                                         "multilingual model.", param="model", code="model_not_supported")
        if request.language is not None and request.language not in model.supported_languages:
            raise errors.invalid_request(
                f"Invalid language {request.language!r}: the model `{request.model}` knows "
                f"{', '.join(model.supported_languages)} (ISO-639-1 codes).", param="language", code="invalid_value")

    def _run(self, request: TranscriptionRequest, audio: bytes, task: str,
             cancelled: threading.Event) -> Iterator[Transcript | TranscriptionSegment]:
        """In the worker thread: the transcript so far (language, duration), then its segments."""
        samples = decode(audio)
        words = "word" in request.timestamp_granularities and request.response_format == "verbose_json"
        segments, info = self._model.transcribe(
            samples, task=task, language=request.language, initial_prompt=request.prompt or None,
            beam_size=self.entry.beam_size, word_timestamps=words,
            temperature=request.temperature or [0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
        transcript = Transcript(task=task, language=info.language, duration=info.duration)
        yield transcript
        for number, seg in enumerate(segments):
            if cancelled.is_set():
                raise Cancelled
            transcript.words += [TranscriptionWord(word=w.word.strip(), start=float(w.start), end=float(w.end))
                                 for w in seg.words or ()]
            yield TranscriptionSegment(
                id=number, seek=int(seg.seek), start=float(seg.start), end=float(seg.end), text=seg.text,
                tokens=[int(t) for t in seg.tokens], temperature=float(seg.temperature or 0.0),
                avg_logprob=float(seg.avg_logprob), compression_ratio=float(seg.compression_ratio),
                no_speech_prob=float(seg.no_speech_prob))

    async def _pieces(self, request: TranscriptionRequest, audio: bytes, task: str,
                      cancelled: threading.Event) -> AsyncIterator[Transcript | TranscriptionSegment]:
        """`_run`'s items as they come out of the worker thread."""
        self._check(request, task)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()

        def work() -> None:
            try:
                for item in self._run(request, audio, task, cancelled):
                    loop.call_soon_threadsafe(queue.put_nowait, item)
            except BaseException as err:  # handed to the event loop, raised there
                loop.call_soon_threadsafe(queue.put_nowait, err)
            loop.call_soon_threadsafe(queue.put_nowait, _END)

        job = loop.run_in_executor(self._pool, work)
        try:
            while (item := await queue.get()) is not _END:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            cancelled.set()  # a request that ends early (cancel, failure) frees the worker
            await asyncio.shield(job)

    async def transcribe(self, request: TranscriptionRequest, audio: bytes, *, task: str,
                         cancelled: threading.Event, request_id: str = "") -> tuple[str, bytes]:
        transcript = None
        async for item in self._pieces(request, audio, task, cancelled):
            if isinstance(item, Transcript):
                transcript = item
            else:
                transcript.segments.append(item)
        return render(transcript, request.response_format, granularities=request.timestamp_granularities)

    async def stream(self, request: TranscriptionRequest, audio: bytes, *, task: str,
                     cancelled: threading.Event, request_id: str = "") -> AsyncIterator[bytes]:
        """`transcript.text.delta` per segment, then `transcript.text.done`."""
        transcript = None
        async for item in self._pieces(request, audio, task, cancelled):
            if isinstance(item, Transcript):
                transcript = item
                continue
            transcript.segments.append(item)
            delta = item.text if len(transcript.segments) > 1 else item.text.lstrip()
            yield _encode(TranscriptTextDelta(delta=delta))
        prompt_tokens = len(self._model.hf_tokenizer.encode(request.prompt).ids) if request.prompt else 0
        audio_tokens = math.ceil(transcript.duration * AUDIO_TOKENS_PER_SECOND)
        output_tokens = sum(len(s.tokens) for s in transcript.segments)
        yield _encode(TranscriptTextDone(text=transcript.text, usage=UsageTokens(
            input_tokens=prompt_tokens + audio_tokens, output_tokens=output_tokens,
            total_tokens=prompt_tokens + audio_tokens + output_tokens,
            input_token_details=InputTokenDetails(text_tokens=prompt_tokens, audio_tokens=audio_tokens))))
