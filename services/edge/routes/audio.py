"""POST /v1/audio/speech (the answer is the audio file, streamed as it comes)"""

import msgspec
from aiohttp import web

from services.edge.relay import forward
from services.edge.routes.body import read_json
from shared import subjects
from shared.protocol.audio import SpeechRequest

_decoder = msgspec.json.Decoder(SpeechRequest)
routes = web.RouteTableDef()


@routes.post("/v1/audio/speech")
async def speech(request: web.Request) -> web.StreamResponse:
    body, parsed = await read_json(request, _decoder)
    return await forward(request, subjects.AUDIO_SPEECH, body, model=parsed.model)
