"""POST /v1/embeddings"""

import msgspec
from aiohttp import web

from services.edge.reading.body import read_json
from services.edge.relay import forward
from shared import subjects
from shared.protocol.embeddings import EmbeddingRequest

_decoder = msgspec.json.Decoder(EmbeddingRequest)
routes = web.RouteTableDef()


@routes.post("/v1/embeddings")
async def create(request: web.Request) -> web.StreamResponse:
    body, parsed = await read_json(request, _decoder)
    return await forward(request, subjects.EMBEDDINGS, body, model=parsed.model)
