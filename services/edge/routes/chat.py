"""POST /v1/chat/completions"""

import msgspec
from aiohttp import web

from services.edge.relay import forward
from services.edge.routes.body import read_json
from shared import subjects
from shared.protocol.chat import ChatCompletionRequest

_decoder = msgspec.json.Decoder(ChatCompletionRequest)
routes = web.RouteTableDef()


@routes.post("/v1/chat/completions")
async def create(request: web.Request) -> web.StreamResponse:
    body, parsed = await read_json(request, _decoder)
    return await forward(request, subjects.CHAT_COMPLETIONS, body, stream=bool(parsed.stream), model=parsed.model)
