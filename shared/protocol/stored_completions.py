"""Stored chat completions (`store: true`): `/v1/chat/completions` listed, and
`/v1/chat/completions/{completion_id}` (+ `/messages`) retrieved, updated, deleted."""

from typing import Annotated, Literal

from msgspec import Meta, Struct

from shared.protocol.chat import Choice, ToolCall, Usage, UserPart
from shared.protocol.metadata import Metadata

# OpenAI's limits: 16 pairs, values up to 512 characters (keys up to 64: checked by the service,
# as msgspec names no parameter for a key).
Limit = Annotated[int, Meta(ge=1, le=100)]
Order = Literal["asc", "desc"]


class StoredChatCompletion(Struct, kw_only=True, omit_defaults=True, tag="chat.completion", tag_field="object"):
    """A stored completion as the API gives it back: the answer, with its `metadata`."""

    id: str
    created: int
    model: str
    choices: list[Choice]
    metadata: dict[str, str]
    usage: Usage | None = None
    system_fingerprint: str | None = None
    service_tier: str | None = None


class ChatCompletionList(Struct, kw_only=True, tag="list", tag_field="object"):
    data: list[StoredChatCompletion]
    first_id: str | None
    last_id: str | None
    has_more: bool


class ChatCompletionDeleted(Struct, kw_only=True, tag="chat.completion.deleted", tag_field="object"):
    id: str
    deleted: bool


class StoredMessage(Struct, kw_only=True, omit_defaults=True):
    """One message of a stored completion's request, with its id (`<completion id>-<index>`):
    `content` as text, and `content_parts` when the request gave parts."""

    id: str
    role: str
    content: str | None
    name: str | None
    content_parts: list[UserPart] | None
    refusal: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None


class ChatCompletionMessageList(Struct, kw_only=True, tag="list", tag_field="object"):
    data: list[StoredMessage]
    first_id: str | None
    last_id: str | None
    has_more: bool


# ---------------------------------------------------------------- requests (edge → chat service)


class ChatCompletionListQuery(Struct, kw_only=True, omit_defaults=True):
    """`GET /v1/chat/completions` query parameters (`metadata[key]=value` gathered into `metadata`)."""

    model: str | None = None
    metadata: dict[str, str] | None = None
    after: str | None = None
    limit: Limit = 20
    order: Order = "asc"


class ChatCompletionUpdateRequest(Struct, kw_only=True):
    """`POST /v1/chat/completions/{completion_id}`'s body."""

    metadata: Metadata | None


class ChatCompletionUpdate(Struct, kw_only=True):
    completion_id: str
    metadata: dict[str, str] | None


class ChatCompletionMessagesQuery(Struct, kw_only=True, omit_defaults=True):
    """`GET /v1/chat/completions/{completion_id}/messages`: the id and the query parameters."""

    completion_id: str
    after: str | None = None
    limit: Limit = 20
    order: Order = "asc"
