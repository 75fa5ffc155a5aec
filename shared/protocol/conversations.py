"""`/v1/conversations`: the conversation object, and the requests for it and its items (the
items are the Responses API's: shared/protocol/responses.py)."""

from typing import Annotated, Any

from msgspec import Meta, Struct

from shared.protocol.responses import Limit, Metadata, Order


class Conversation(Struct, kw_only=True, tag="conversation", tag_field="object"):
    id: str
    created_at: int
    metadata: dict[str, str]


class ConversationDeleted(Struct, kw_only=True, tag="conversation.deleted", tag_field="object"):
    id: str
    deleted: bool = True


class ConversationCreateRequest(Struct, kw_only=True):
    items: Annotated[list[dict[str, Any]], Meta(max_length=20)] | None = None
    metadata: Metadata | None = None


class ConversationUpdateRequest(Struct, kw_only=True):
    metadata: Metadata


class ConversationUpdate(Struct, kw_only=True):
    conversation_id: str
    metadata: dict[str, str]


class ConversationItemsCreateRequest(Struct, kw_only=True):
    items: Annotated[list[dict[str, Any]], Meta(min_length=1, max_length=20)]


class ConversationItemsCreate(Struct, kw_only=True):
    conversation_id: str
    items: list[dict[str, Any]]


class ConversationItemsQuery(Struct, kw_only=True, omit_defaults=True):
    """`GET /v1/conversations/{conversation_id}/items`: the id and the query parameters."""

    conversation_id: str
    after: str | None = None
    limit: Limit = 20
    order: Order = "desc"
    include: list[str] | None = None


class ConversationItemRef(Struct, kw_only=True):
    """`GET` or `DELETE /v1/conversations/{conversation_id}/items/{item_id}`."""

    conversation_id: str
    item_id: str
