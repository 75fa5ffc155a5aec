"""POST /v1/responses, POST /v1/responses/input_tokens, POST /v1/responses/compact,
GET and DELETE /v1/responses/{response_id} (GET with `stream=true` replays and follows a background
response's events), POST /v1/responses/{response_id}/cancel, GET /v1/responses/{response_id}/input_items"""

import msgspec
from aiohttp import web

from services.edge.reading.body import convert, read_json
from services.edge.relay import by_id, forward
from shared import subjects
from shared.protocol.responses import InputItemsQuery, ResponseCreateRequest, ResponseRetrieveQuery

_decoder = msgspec.json.Decoder(ResponseCreateRequest)
_encode = msgspec.json.Encoder().encode
routes = web.RouteTableDef()


@routes.post("/v1/responses")
async def create(request: web.Request) -> web.StreamResponse:
    body, parsed = await read_json(request, _decoder)
    return await forward(request, subjects.RESPONSES, body, stream=bool(parsed.stream), model=parsed.model)


@routes.post("/v1/responses/input_tokens")
async def input_tokens(request: web.Request) -> web.StreamResponse:
    body, parsed = await read_json(request, _decoder)
    return await forward(request, subjects.RESPONSES_INPUT_TOKENS, body, model=parsed.model)


@routes.post("/v1/responses/compact")
async def compact(request: web.Request) -> web.StreamResponse:
    body, parsed = await read_json(request, _decoder)
    return await forward(request, subjects.RESPONSES_COMPACT, body, model=parsed.model)


@routes.get("/v1/responses/{response_id}")
async def retrieve(request: web.Request) -> web.StreamResponse:
    values = {name: value for name, value in request.query.items() if not name.startswith("include")}
    query = convert({**values, "response_id": request.match_info["response_id"]}, ResponseRetrieveQuery)
    return await forward(request, subjects.RESPONSES_RETRIEVE, _encode(query), stream=query.stream)


routes.post("/v1/responses/{response_id}/cancel")(by_id(subjects.RESPONSES_CANCEL, "response_id"))
routes.delete("/v1/responses/{response_id}")(by_id(subjects.RESPONSES_DELETE, "response_id"))


@routes.get("/v1/responses/{response_id}/input_items")
async def input_items(request: web.Request) -> web.StreamResponse:
    values = {name: value for name, value in request.query.items() if not name.startswith("include")}
    query = convert({**values, "response_id": request.match_info["response_id"]}, InputItemsQuery)
    return await forward(request, subjects.RESPONSES_INPUT_ITEMS, _encode(query))
