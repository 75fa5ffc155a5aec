"""`POST /v1/audio/transcriptions` and `POST /v1/audio/translations`: the audio file waits in the
bus's object store (see `shared/audiostore.py`); the answer is JSON or text, or SSE events when a
transcription is streamed."""

import logging

import msgspec
from nats.js.errors import NotFoundError

from services.audio.context import Context
from services.kit.outcome import Outcome
from services.kit.service import decode
from shared import errors
from shared.bus import Replier
from shared.protocol.audio import TranscriptionRequest
from shared.protocol.bus import Envelope

log = logging.getLogger("audio")
_decode = msgspec.json.Decoder(TranscriptionRequest)
ROUTES = {"transcribe": "/v1/audio/transcriptions", "translate": "/v1/audio/translations"}


async def transcribe(ctx: Context, envelope: Envelope, replier: Replier, outcome: Outcome) -> None:
    await _run("transcribe", ctx, envelope, replier, outcome)


async def translate(ctx: Context, envelope: Envelope, replier: Replier, outcome: Outcome) -> None:
    await _run("translate", ctx, envelope, replier, outcome)


async def _run(task: str, ctx: Context, envelope: Envelope, replier: Replier, outcome: Outcome) -> None:
    request = decode(_decode, envelope.body)
    try:
        outcome.model = request.model
        outcome.stream = request.stream and task == "transcribe"
        provider = ctx.provider(request.model, ROUTES[task])
        audio = await _fetch(ctx, request.file.name)
    finally:
        await _forget(ctx, request.file.name)
    if outcome.stream:
        async for event in provider.stream(request, audio, task=task, cancelled=outcome.stop,
                                           request_id=envelope.request_id):
            await replier.data(event)
            outcome.chunks += 1
        await replier.done()
    else:
        content_type, body = await provider.transcribe(request, audio, task=task, cancelled=outcome.stop,
                                                       request_id=envelope.request_id)
        if content_type.startswith("application/json"):
            await replier.data(body)
        else:  # text, srt, vtt: the body as it is, with its content type
            await replier.blob(body, content_type=content_type)
            await replier.done()


async def _fetch(ctx: Context, name: str) -> bytes:
    try:
        return (await ctx.store.get(name)).data
    except NotFoundError:
        raise errors.invalid_request("The uploaded audio file is gone (expired or already used); send it again.",
                                     param="file") from None


async def _forget(ctx: Context, name: str) -> None:
    try:
        await ctx.store.delete(name)
    except Exception:  # noqa: BLE001 - the TTL removes it anyway
        log.warning("could not delete audio object %s", name, exc_info=True)
