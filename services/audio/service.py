"""The audio service on the bus: `/v1/audio/speech` (binary `Blob` frames), and
`/v1/audio/transcriptions` and `/v1/audio/translations` (JSON or text, or SSE events when
streamed), whose audio file waits in the bus's object store (see `shared/audiostore.py`)."""

import logging

import msgspec
from nats.aio.client import Client
from nats.js.errors import NotFoundError
from opentelemetry.trace import TracerProvider

from services.kit import service as bus_service
from services.audio import speech_events
from services.audio.providers.base import AudioProvider
from services.kit.service import BusService, Endpoint
from services.kit.outcome import Outcome
from shared import audiostore, errors, subjects
from shared.bus import Replier
from shared.protocol.audio import SpeechRequest, TranscriptionRequest
from shared.protocol.bus import Envelope
from shared.registry import Registry

log = logging.getLogger("audio")
_decode_speech = msgspec.json.Decoder(SpeechRequest)
_decode_transcription = msgspec.json.Decoder(TranscriptionRequest)
# Which model APIs serve each path: an upstream whisper (`api = "transcriptions"`) translates too.
_APIS = {"/v1/audio/speech": {"speech"}, "/v1/audio/transcriptions": {"transcriptions"},
         "/v1/audio/translations": {"transcriptions", "translations"}}


class AudioService(BusService):
    def __init__(self, nc: Client, registry: Registry[AudioProvider], *, heartbeat_interval: float,
                 tracer_provider: TracerProvider | None = None) -> None:
        super().__init__(nc, name=subjects.SERVICES["audio"], description="speech, transcriptions and translations",
                         heartbeat_interval=heartbeat_interval, tracer_provider=tracer_provider)
        self._registry = registry
        self._store = None

    def endpoints(self) -> list[Endpoint]:
        return [
            Endpoint("audio_speech", subjects.AUDIO_SPEECH, "/v1/audio/speech", self._speech),
            Endpoint("audio_transcriptions", subjects.AUDIO_TRANSCRIPTIONS, "/v1/audio/transcriptions",
                     self._transcriptions, cancellable=True),
            Endpoint("audio_translations", subjects.AUDIO_TRANSLATIONS, "/v1/audio/translations", self._translations,
                     cancellable=True),
        ]

    async def start(self) -> None:
        self._store = await audiostore.bucket(self.nc.jetstream())
        await super().start()

    def _provider(self, model: str, route: str) -> AudioProvider:
        return self._registry.provider(model, route, apis=_APIS[route])

    async def _speech(self, envelope: Envelope, replier: Replier, outcome: Outcome) -> None:
        request = bus_service.decode(_decode_speech, envelope.body)
        outcome.model, outcome.stream = request.model, True
        provider = self._provider(request.model, "/v1/audio/speech")
        content_type, pieces = await provider.speak(request, raw=bytes(envelope.body), request_id=envelope.request_id)
        if request.stream_format == "sse" and content_type != speech_events.CONTENT_TYPE:
            # a local voice: the file's pieces as OpenAI's speech events (an upstream sends its own)
            content_type, pieces = speech_events.CONTENT_TYPE, speech_events.events(pieces, request.input)
        first = True
        async for piece in pieces:
            await replier.blob(piece, content_type=content_type if first else "")
            first = False
            outcome.chunks += 1
        await replier.done()

    async def _transcriptions(self, envelope: Envelope, replier: Replier, outcome: Outcome) -> None:
        await self._transcribe("transcribe", envelope, replier, outcome)

    async def _translations(self, envelope: Envelope, replier: Replier, outcome: Outcome) -> None:
        await self._transcribe("translate", envelope, replier, outcome)

    async def _transcribe(self, task: str, envelope: Envelope, replier: Replier, outcome: Outcome) -> None:
        request = bus_service.decode(_decode_transcription, envelope.body)
        try:
            outcome.model = request.model
            outcome.stream = request.stream and task == "transcribe"
            route = "/v1/audio/transcriptions" if task == "transcribe" else "/v1/audio/translations"
            provider = self._provider(request.model, route)
            audio = await self._fetch(request.file.name)
        finally:
            await self._forget(request.file.name)
        if outcome.stream:
            async for event in provider.stream(request, audio, task=task, cancelled=outcome.stop,
                                               request_id=envelope.request_id):
                await replier.data(event)
                outcome.chunks += 1
            await replier.done()
        else:
            content_type, body = await provider.transcribe(request, audio, task=task, cancelled=outcome.stop,
                                                           request_id=envelope.request_id)
            if content_type.startswith("application/json"):
                await replier.data(body)
            else:  # text, srt, vtt: the body as it is, with its content type
                await replier.blob(body, content_type=content_type)
                await replier.done()

    async def _fetch(self, name: str) -> bytes:
        try:
            return (await self._store.get(name)).data
        except NotFoundError:
            raise errors.invalid_request("The uploaded audio file is gone (expired or already used); send it again.",
                                         param="file") from None

    async def _forget(self, name: str) -> None:
        try:
            await self._store.delete(name)
        except Exception:  # noqa: BLE001 - the TTL removes it anyway
            log.warning("could not delete audio object %s", name, exc_info=True)
