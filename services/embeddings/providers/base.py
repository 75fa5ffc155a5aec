"""The one interface every embeddings and moderations provider implements."""

from dataclasses import dataclass
from typing import Literal, Protocol

from shared.protocol.embeddings import EmbeddingRequest
from shared.protocol.moderations import ModerationRequest

Endpoint = Literal["embeddings", "moderations"]


@dataclass(slots=True, kw_only=True)
class Call:
    """One request as a provider sees it."""

    endpoint: Endpoint
    request: EmbeddingRequest | ModerationRequest
    raw: bytes  # the client's JSON body, for providers that relay it upstream
    model: str  # the public id the client asked for, echoed in answers
    request_id: str


class EmbeddingsProvider(Protocol):
    """`create` answers with the encoded OpenAI object (an embedding list, a moderation); failures
    are raised as `shared.errors.ApiError`. A provider is only given calls of its model's API."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def create(self, call: Call) -> bytes: ...
