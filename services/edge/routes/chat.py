"""POST /v1/chat/completions, and the stored ones (`store: true`): GET /v1/chat/completions,
GET, POST and DELETE /v1/chat/completions/{completion_id}, GET /v1/chat/completions/{completion_id}/messages"""

import msgspec
from aiohttp import web

from services.edge.reading.body import convert, read_json
from services.edge.relay import by_id, forward
from shared import subjects
from shared.protocol.chat import ChatCompletionRequest
from shared.protocol.stored_completions import (
    ChatCompletionListQuery,
    ChatCompletionMessagesQuery,
    ChatCompletionUpdate,
    ChatCompletionUpdateRequest,
)

_decoder = msgspec.json.Decoder(ChatCompletionRequest)
_update = msgspec.json.Decoder(ChatCompletionUpdateRequest)
_encode = msgspec.json.Encoder().encode
routes = web.RouteTableDef()


@routes.post("/v1/chat/completions")
async def create(request: web.Request) -> web.StreamResponse:
    body, parsed = await read_json(request, _decoder)
    return await forward(request, subjects.CHAT_COMPLETIONS, body, stream=bool(parsed.stream), model=parsed.model)


@routes.get("/v1/chat/completions")
async def list_completions(request: web.Request) -> web.StreamResponse:
    # `metadata[key]=value` pairs (the SDK's form of the `metadata` filter) become one object.
    values: dict = {name: value for name, value in request.query.items() if not name.startswith("metadata[")}
    metadata = {name[len("metadata["):-1]: value for name, value in request.query.items()
                if name.startswith("metadata[") and name.endswith("]")}
    if metadata:
        values["metadata"] = metadata
    query = convert(values, ChatCompletionListQuery)
    return await forward(request, subjects.CHAT_COMPLETIONS_LIST, _encode(query))


routes.get("/v1/chat/completions/{completion_id}")(by_id(subjects.CHAT_COMPLETIONS_RETRIEVE, "completion_id"))


@routes.post("/v1/chat/completions/{completion_id}")
async def update(request: web.Request) -> web.StreamResponse:
    _, parsed = await read_json(request, _update)
    change = ChatCompletionUpdate(completion_id=request.match_info["completion_id"], metadata=parsed.metadata)
    return await forward(request, subjects.CHAT_COMPLETIONS_UPDATE, _encode(change))


routes.delete("/v1/chat/completions/{completion_id}")(by_id(subjects.CHAT_COMPLETIONS_DELETE, "completion_id"))


@routes.get("/v1/chat/completions/{completion_id}/messages")
async def messages(request: web.Request) -> web.StreamResponse:
    query = convert({**request.query, "completion_id": request.match_info["completion_id"]},
                    ChatCompletionMessagesQuery)
    return await forward(request, subjects.CHAT_COMPLETIONS_MESSAGES, _encode(query))
