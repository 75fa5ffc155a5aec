"""What the audio service's handlers work with."""

from dataclasses import dataclass

from nats.js.object_store import ObjectStore

from services.audio.providers.base import AudioProvider
from shared.registry import Registry

# Which model APIs serve each path: an upstream whisper (`api = "transcriptions"`) translates too.
APIS = {"/v1/audio/speech": {"speech"}, "/v1/audio/transcriptions": {"transcriptions"},
        "/v1/audio/translations": {"transcriptions", "translations"}}


@dataclass(slots=True)
class Context:
    registry: Registry[AudioProvider]
    store: ObjectStore | None = None  # audio files from the edge; opened when the service starts

    def provider(self, model: str, route: str) -> AudioProvider:
        return self.registry.provider(model, route, apis=APIS[route])
