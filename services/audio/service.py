"""The audio service on the bus: `/v1/audio/speech`, answered as binary `Blob` frames."""

import msgspec
from nats.aio.client import Client
from opentelemetry.trace import TracerProvider

from services import bus_service
from services.audio.providers.local_speech import LocalSpeech
from services.bus_service import BusService, Endpoint
from services.outcome import Outcome
from shared import subjects
from shared.bus import Replier
from shared.protocol.audio import SpeechRequest
from shared.protocol.bus import Envelope
from shared.registry import Registry

_decode_speech = msgspec.json.Decoder(SpeechRequest)


class AudioService(BusService):
    def __init__(self, nc: Client, registry: Registry[LocalSpeech], *, heartbeat_interval: float,
                 tracer_provider: TracerProvider | None = None) -> None:
        super().__init__(nc, name=subjects.SERVICES["audio"], description="speech",
                         heartbeat_interval=heartbeat_interval, tracer_provider=tracer_provider)
        self._registry = registry

    def endpoints(self) -> list[Endpoint]:
        return [Endpoint("audio_speech", subjects.AUDIO_SPEECH, "/v1/audio/speech", self._speech)]

    async def _speech(self, envelope: Envelope, replier: Replier, outcome: Outcome) -> None:
        request = bus_service.decode(_decode_speech, envelope.body)
        outcome.model, outcome.stream = request.model, True
        provider = self._registry.provider(request.model, "/v1/audio/speech")
        self.heartbeats.watch(replier)
        try:
            content_type, pieces = await provider.speak(request)
            first = True
            async for piece in pieces:
                await replier.blob(piece, content_type=content_type if first else "")
                first = False
                outcome.chunks += 1
            await replier.done()
        finally:
            self.heartbeats.forget(replier)
