"""The one interface every chat provider implements."""

import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Literal, Protocol

from shared.protocol.chat import ChatCompletionRequest
from shared.protocol.completions import CompletionRequest
from shared.protocol.responses import ResponseCreateRequest

# "responses": only to an upstream that has the Responses API (`responses_api = true`).
Endpoint = Literal["chat/completions", "completions", "responses"]


@dataclass(slots=True, kw_only=True)
class Call:
    """One request as a provider sees it."""

    endpoint: Endpoint
    request: ChatCompletionRequest | CompletionRequest | ResponseCreateRequest
    raw: bytes  # the client's JSON body, for providers that relay fields we do not model
    model: str  # the public id the client asked for, echoed in answers
    request_id: str
    # Set when the client went away or the request ended: generation running in a thread stops.
    cancelled: threading.Event = field(default_factory=threading.Event)


class ChatProvider(Protocol):
    """`create` answers with the encoded OpenAI object; `stream` yields encoded chunks.

    Bytes rather than structs, so an upstream's answer can be relayed without a decode/encode trip.
    Failures are raised as `shared.errors.ApiError`.
    """

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def create(self, call: Call) -> bytes: ...

    def stream(self, call: Call) -> AsyncIterator[bytes]: ...
