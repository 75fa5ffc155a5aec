"""The audio service on the bus: `/v1/audio/speech` (speech.py), and `/v1/audio/transcriptions` and
`/v1/audio/translations` (transcriptions.py)."""

import functools

from nats.aio.client import Client
from opentelemetry.trace import TracerProvider

from services.audio import speech, transcriptions
from services.audio.context import Context
from services.audio.providers.base import AudioProvider
from services.kit.service import BusService, Endpoint
from shared import audiostore, subjects
from shared.registry import Registry


class AudioService(BusService):
    def __init__(self, nc: Client, registry: Registry[AudioProvider], *, heartbeat_interval: float,
                 tracer_provider: TracerProvider | None = None) -> None:
        super().__init__(nc, name=subjects.SERVICES["audio"], description="speech, transcriptions and translations",
                         heartbeat_interval=heartbeat_interval, tracer_provider=tracer_provider)
        self._ctx = Context(registry)

    def endpoints(self) -> list[Endpoint]:
        ctx = self._ctx
        return [
            Endpoint("audio_speech", subjects.AUDIO_SPEECH, speech.ROUTE, functools.partial(speech.create, ctx)),
            Endpoint("audio_transcriptions", subjects.AUDIO_TRANSCRIPTIONS, transcriptions.ROUTES["transcribe"],
                     functools.partial(transcriptions.transcribe, ctx), cancellable=True),
            Endpoint("audio_translations", subjects.AUDIO_TRANSLATIONS, transcriptions.ROUTES["translate"],
                     functools.partial(transcriptions.translate, ctx), cancellable=True),
        ]

    async def start(self) -> None:
        self._ctx.store = await audiostore.bucket(self.nc.jetstream())
        await super().start()
