"""`POST /v1/audio/speech`: the voice's audio file as binary `Blob` frames, or OpenAI's speech
events (SSE) with `stream_format: "sse"`."""

import msgspec

from services.audio import speech_events
from services.audio.context import Context
from services.kit.outcome import Outcome
from services.kit.service import decode
from shared.bus import Replier
from shared.protocol.audio import SpeechRequest
from shared.protocol.bus import Envelope

ROUTE = "/v1/audio/speech"
_decode = msgspec.json.Decoder(SpeechRequest)


async def create(ctx: Context, envelope: Envelope, replier: Replier, outcome: Outcome) -> None:
    request = decode(_decode, envelope.body)
    outcome.model, outcome.stream = request.model, True
    provider = ctx.provider(request.model, ROUTE)
    content_type, pieces = await provider.speak(request, raw=bytes(envelope.body), request_id=envelope.request_id)
    if request.stream_format == "sse" and content_type != speech_events.CONTENT_TYPE:
        # a local voice: the file's pieces as OpenAI's speech events (an upstream sends its own)
        content_type, pieces = speech_events.CONTENT_TYPE, speech_events.events(pieces, request.input)
    first = True
    async for piece in pieces:
        await replier.blob(piece, content_type=content_type if first else "")
        first = False
        outcome.chunks += 1
    await replier.done()
