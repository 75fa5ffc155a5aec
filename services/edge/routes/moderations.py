"""POST /v1/moderations"""

import msgspec
from aiohttp import web

from services.edge.reading.body import read_json
from services.edge.relay import forward
from shared import subjects
from shared.protocol.moderations import ModerationRequest

_decoder = msgspec.json.Decoder(ModerationRequest)
routes = web.RouteTableDef()


@routes.post("/v1/moderations")
async def create(request: web.Request) -> web.StreamResponse:
    body, parsed = await read_json(request, _decoder)
    return await forward(request, subjects.MODERATIONS, body, model=parsed.model)
