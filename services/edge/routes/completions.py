"""POST /v1/completions (legacy)"""

import msgspec
from aiohttp import web

from services.edge.reading.body import read_json
from services.edge.relay import forward
from shared import subjects
from shared.protocol.completions import CompletionRequest

_decoder = msgspec.json.Decoder(CompletionRequest)
routes = web.RouteTableDef()


@routes.post("/v1/completions")
async def create(request: web.Request) -> web.StreamResponse:
    body, parsed = await read_json(request, _decoder)
    return await forward(request, subjects.COMPLETIONS, body, stream=bool(parsed.stream), model=parsed.model)
