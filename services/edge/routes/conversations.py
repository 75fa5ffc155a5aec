"""POST /v1/conversations, GET, POST and DELETE /v1/conversations/{conversation_id},
GET and POST /v1/conversations/{conversation_id}/items,
GET and DELETE /v1/conversations/{conversation_id}/items/{item_id}"""

import msgspec
from aiohttp import web

from services.edge.relay import by_id, forward
from services.edge.reading.body import convert, read_json
from shared import subjects
from shared.protocol.conversations import (ConversationCreateRequest, ConversationItemRef, ConversationItemsCreate,
    ConversationItemsCreateRequest, ConversationItemsQuery, ConversationUpdate, ConversationUpdateRequest)

_create = msgspec.json.Decoder(ConversationCreateRequest)
_update = msgspec.json.Decoder(ConversationUpdateRequest)
_items_create = msgspec.json.Decoder(ConversationItemsCreateRequest)
_encode = msgspec.json.Encoder().encode
routes = web.RouteTableDef()


def _item(request: web.Request) -> bytes:
    return _encode(ConversationItemRef(conversation_id=request.match_info["conversation_id"],
                                       item_id=request.match_info["item_id"]))


@routes.post("/v1/conversations")
async def create(request: web.Request) -> web.StreamResponse:
    body = await request.read()
    if body.strip():  # every field is optional, and the SDK may send no body at all
        body, _ = await read_json(request, _create)
    return await forward(request, subjects.CONVERSATIONS_CREATE, body if body.strip() else b"{}")


routes.get("/v1/conversations/{conversation_id}")(by_id(subjects.CONVERSATIONS_RETRIEVE, "conversation_id"))


@routes.post("/v1/conversations/{conversation_id}")
async def update(request: web.Request) -> web.StreamResponse:
    _, parsed = await read_json(request, _update)
    change = ConversationUpdate(conversation_id=request.match_info["conversation_id"], metadata=parsed.metadata)
    return await forward(request, subjects.CONVERSATIONS_UPDATE, _encode(change))


routes.delete("/v1/conversations/{conversation_id}")(by_id(subjects.CONVERSATIONS_DELETE, "conversation_id"))


@routes.get("/v1/conversations/{conversation_id}/items")
async def list_items(request: web.Request) -> web.StreamResponse:
    values = {name: value for name, value in request.query.items() if not name.startswith("include")}
    query = convert({**values, "conversation_id": request.match_info["conversation_id"]}, ConversationItemsQuery)
    return await forward(request, subjects.CONVERSATIONS_ITEMS_LIST, _encode(query))


@routes.post("/v1/conversations/{conversation_id}/items")
async def create_items(request: web.Request) -> web.StreamResponse:
    _, parsed = await read_json(request, _items_create)
    added = ConversationItemsCreate(conversation_id=request.match_info["conversation_id"], items=parsed.items)
    return await forward(request, subjects.CONVERSATIONS_ITEMS_CREATE, _encode(added))


@routes.get("/v1/conversations/{conversation_id}/items/{item_id}")
async def retrieve_item(request: web.Request) -> web.StreamResponse:
    return await forward(request, subjects.CONVERSATIONS_ITEMS_RETRIEVE, _item(request))


@routes.delete("/v1/conversations/{conversation_id}/items/{item_id}")
async def delete_item(request: web.Request) -> web.StreamResponse:
    return await forward(request, subjects.CONVERSATIONS_ITEMS_DELETE, _item(request))
