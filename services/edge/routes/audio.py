"""POST /v1/audio/speech (the answer is the audio file, streamed as it comes),
POST /v1/audio/transcriptions and POST /v1/audio/translations (the form's file goes through the
bus's object store: services/edge/reading/audio_form.py)."""

import msgspec
from aiohttp import web

from services.edge.reading import audio_form
from services.edge.reading.body import read_json
from services.edge.relay import forward
from shared import errors, subjects
from shared.protocol.audio import SpeechRequest

_decoder = msgspec.json.Decoder(SpeechRequest)
routes = web.RouteTableDef()


@routes.post("/v1/audio/speech")
async def speech(request: web.Request) -> web.StreamResponse:
    body, parsed = await read_json(request, _decoder)
    return await forward(request, subjects.AUDIO_SPEECH, body, model=parsed.model)


_encode = msgspec.json.Encoder().encode


@routes.post("/v1/audio/transcriptions")
async def transcriptions(request: web.Request) -> web.StreamResponse:
    return await _transcribe(request, subjects.AUDIO_TRANSCRIPTIONS, task="transcribe")


@routes.post("/v1/audio/translations")
async def translations(request: web.Request) -> web.StreamResponse:
    return await _transcribe(request, subjects.AUDIO_TRANSLATIONS, task="translate")


async def _transcribe(request: web.Request, subject: str, *, task: str) -> web.StreamResponse:
    parsed = await audio_form.read(request, task=task)
    try:
        return await forward(request, subject, _encode(parsed), stream=parsed.stream, model=parsed.model)
    except errors.ApiError as err:
        if err.status in (503, 504):  # no service took it: the file would wait for its TTL
            await audio_form.delete(request, parsed.file)
        raise
