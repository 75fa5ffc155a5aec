"""POST /v1/batches, GET /v1/batches, GET /v1/batches/{batch_id}, POST /v1/batches/{batch_id}/cancel"""

import msgspec
from aiohttp import web

from services.edge.reading.body import read_json
from services.edge.relay import by_id, by_query, forward
from shared import subjects
from shared.protocol.batches import BatchCreateRequest, BatchListQuery

_decoder = msgspec.json.Decoder(BatchCreateRequest)
routes = web.RouteTableDef()


@routes.post("/v1/batches")
async def create(request: web.Request) -> web.StreamResponse:
    body, _ = await read_json(request, _decoder)
    return await forward(request, subjects.BATCHES_CREATE, body)


routes.get("/v1/batches")(by_query(subjects.BATCHES_LIST, BatchListQuery))
routes.get("/v1/batches/{batch_id}")(by_id(subjects.BATCHES_RETRIEVE, "batch_id"))
routes.post("/v1/batches/{batch_id}/cancel")(by_id(subjects.BATCHES_CANCEL, "batch_id"))
