"""POST /v1/batches, GET /v1/batches, GET /v1/batches/{batch_id}, POST /v1/batches/{batch_id}/cancel"""

import msgspec
from aiohttp import web

from services.edge.relay import forward
from services.edge.reading.body import convert, read_json
from shared import subjects
from shared.protocol.batches import BatchCreateRequest, BatchListQuery

_decoder = msgspec.json.Decoder(BatchCreateRequest)
_encode = msgspec.json.Encoder().encode
routes = web.RouteTableDef()


@routes.post("/v1/batches")
async def create(request: web.Request) -> web.StreamResponse:
    body, _ = await read_json(request, _decoder)
    return await forward(request, subjects.BATCHES_CREATE, body)


@routes.get("/v1/batches")
async def list_batches(request: web.Request) -> web.StreamResponse:
    query = convert(dict(request.query), BatchListQuery)
    return await forward(request, subjects.BATCHES_LIST, _encode(query))


@routes.get("/v1/batches/{batch_id}")
async def retrieve(request: web.Request) -> web.StreamResponse:
    return await forward(request, subjects.BATCHES_RETRIEVE, _encode(request.match_info["batch_id"]))


@routes.post("/v1/batches/{batch_id}/cancel")
async def cancel(request: web.Request) -> web.StreamResponse:
    return await forward(request, subjects.BATCHES_CANCEL, _encode(request.match_info["batch_id"]))
