"""`/v1/models`: the models a key may use: every configured one, and the project's tuned ones (its
own, and those shared with it)."""

import msgspec

from services.chat.registry import Registry
from shared.protocol.bus import Envelope
from shared.protocol.models import Model, ModelList


async def list_models(registry: Registry, envelope: Envelope) -> ModelList:
    return registry.visible(envelope.project)


async def retrieve(registry: Registry, envelope: Envelope) -> Model:
    name = msgspec.json.decode(envelope.body, type=str)
    registry.check_access(name, envelope.project)
    return registry.model(name, envelope.project)
