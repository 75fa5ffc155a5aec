"""The one interface every images provider implements."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal, Protocol

from shared.protocol.images import ImageCall, ImageInput

Endpoint = Literal["images/generations", "images/edits", "images/variations"]


@dataclass(slots=True, kw_only=True)
class Call:
    """One request as a provider sees it."""

    endpoint: Endpoint
    # What the edge sent: a generation's JSON body, or an edit's or variation's form fields.
    request: ImageCall
    images: list[tuple[ImageInput, bytes]] | None = None  # an edit's or variation's files, read
    model: str  # the public id the client asked for (or the default)
    request_id: str


class ImagesProvider(Protocol):
    """`create` answers with the encoded images response (the service then puts each image the way
    the client asked for it); `stream` yields the encoded partial-image events. Failures are raised
    as `shared.errors.ApiError`."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def create(self, call: Call) -> bytes: ...

    def stream(self, call: Call) -> AsyncIterator[bytes]: ...
