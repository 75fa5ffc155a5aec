"""`/v1/conversations`: create (with items and metadata), retrieve, update, delete; and its items:
list, add, retrieve, delete. A response created with `conversation` reads the conversation's items
as its context and appends its input and output items (services/responses/responses.py)."""

import time

import msgspec
from pymongo.errors import DuplicateKeyError

from services.kit import service as bus_service
from services.kit.tables import new_id, page, sequence
from services.responses import items
from services.responses.context import Context
from services.responses.tables import ConversationItemRecord, ConversationRecord
from shared import errors
from shared.protocol.bus import Envelope
from shared.protocol.conversations import (Conversation, ConversationCreateRequest, ConversationDeleted,
    ConversationItemRef, ConversationItemsCreate, ConversationItemsQuery, ConversationUpdate)
from shared.protocol.responses import Item, ItemList

_create = msgspec.json.Decoder(ConversationCreateRequest)
_update = msgspec.json.Decoder(ConversationUpdate)
_conversation_id = msgspec.json.Decoder(str)
_items_query = msgspec.json.Decoder(ConversationItemsQuery)
_items_create = msgspec.json.Decoder(ConversationItemsCreate)
_item_ref = msgspec.json.Decoder(ConversationItemRef)


def _object(record: ConversationRecord) -> Conversation:
    return Conversation(id=record.id, created_at=record.created_at, metadata=record.metadata)


def not_found(conversation_id: str, param: str = "conversation_id") -> errors.ApiError:
    return errors.ApiError(404, f"Conversation with id '{conversation_id}' not found.", param=param, code="not_found")


async def own(ctx: Context, conversation_id: str, project: str, *,
              param: str = "conversation_id") -> ConversationRecord:
    record = await ctx.tables.conversations.get({"_id": conversation_id, "project": project})
    if record is None:
        raise not_found(conversation_id, param)
    return record


async def all_items(ctx: Context, conversation: ConversationRecord) -> list[Item]:
    """Every item of `conversation`, oldest first: a response's context."""
    records = await ctx.tables.items.find({"conversation_id": conversation.id}, sort=[("seq", 1)])
    return [record.item for record in records]


async def append(ctx: Context, conversation: ConversationRecord, added: list[Item]) -> list[Item]:
    """Add `added` (stored items, with ids) at the end of `conversation`; an item whose id it holds
    already is not added twice."""
    start = time.time_ns()
    kept = []
    for offset, item in enumerate(added):
        record = ConversationItemRecord(id=f"{conversation.id}/{item.id}", conversation_id=conversation.id,
                                        project=conversation.project, seq=sequence(start + offset, item.id), item=item)
        try:
            await ctx.tables.items.insert(record)
            kept.append(item)
        except DuplicateKeyError:
            pass
    return kept


# ------------------------------------------------------------ conversations


async def create(ctx: Context, envelope: Envelope) -> Conversation:
    request = bus_service.decode(_create, envelope.body)
    given = [items.stored(item) for item in items.parse(request.items, param="items")]
    record = ConversationRecord(id=new_id("conv_"), project=envelope.project, created_at=int(time.time()),
                                metadata=request.metadata or {})
    await ctx.tables.conversations.insert(record)
    await append(ctx, record, items.resolve(given, []))
    return _object(record)


async def retrieve(ctx: Context, envelope: Envelope) -> Conversation:
    conversation_id = bus_service.decode(_conversation_id, envelope.body)
    return _object(await own(ctx, conversation_id, envelope.project))


async def update(ctx: Context, envelope: Envelope) -> Conversation:
    change = bus_service.decode(_update, envelope.body)
    record = await ctx.tables.conversations.update({"_id": change.conversation_id, "project": envelope.project},
                                                   {"metadata": change.metadata})
    if record is None:
        raise not_found(change.conversation_id)
    return _object(record)


async def delete(ctx: Context, envelope: Envelope) -> ConversationDeleted:
    conversation_id = bus_service.decode(_conversation_id, envelope.body)
    if not await ctx.tables.conversations.delete({"_id": conversation_id, "project": envelope.project}):
        raise not_found(conversation_id)
    await ctx.tables.items.delete({"conversation_id": conversation_id})
    return ConversationDeleted(id=conversation_id)


# ------------------------------------------------------------ items


async def list_items(ctx: Context, envelope: Envelope) -> ItemList:
    query = bus_service.decode(_items_query, envelope.body)
    conversation = await own(ctx, query.conversation_id, envelope.project)
    where: dict = {"conversation_id": conversation.id}
    ascending = query.order == "asc"
    if query.after:
        anchor = await ctx.tables.items.get({"_id": f"{conversation.id}/{query.after}"})
        if anchor is None:
            raise errors.invalid_request(f"No item found with id '{query.after}'.", param="after",
                                         code="invalid_value")
        where["seq"] = {"$gt" if ascending else "$lt": anchor.seq}
    records = await ctx.tables.items.find(where, sort=[("seq", 1 if ascending else -1)], limit=query.limit + 1)
    data, has_more = page(records, query.limit, lambda record: record.item, budget=ctx.page_budget)
    return ItemList(data=data, first_id=data[0].id if data else None, last_id=data[-1].id if data else None,
                    has_more=has_more)


async def create_items(ctx: Context, envelope: Envelope) -> ItemList:
    request = bus_service.decode(_items_create, envelope.body)
    conversation = await own(ctx, request.conversation_id, envelope.project)
    given = [items.stored(item) for item in items.parse(request.items, param="items")]
    added = await append(ctx, conversation, items.resolve(given, await all_items(ctx, conversation)))
    return ItemList(data=added, first_id=added[0].id if added else None, last_id=added[-1].id if added else None,
                    has_more=False)


async def _item(ctx: Context, ref: ConversationItemRef, project: str) -> ConversationItemRecord:
    conversation = await own(ctx, ref.conversation_id, project)
    record = await ctx.tables.items.get({"_id": f"{conversation.id}/{ref.item_id}"})
    if record is None:
        raise errors.ApiError(404, f"Item with id '{ref.item_id}' not found.", param="item_id", code="not_found")
    return record


async def retrieve_item(ctx: Context, envelope: Envelope) -> Item:
    ref = bus_service.decode(_item_ref, envelope.body)
    return (await _item(ctx, ref, envelope.project)).item


async def delete_item(ctx: Context, envelope: Envelope) -> Conversation:
    ref = bus_service.decode(_item_ref, envelope.body)
    record = await _item(ctx, ref, envelope.project)
    await ctx.tables.items.delete({"_id": record.id})
    return _object(await own(ctx, ref.conversation_id, envelope.project))
