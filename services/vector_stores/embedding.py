"""Vectors for chunks and queries, from the embeddings service over the bus (`vivian.embeddings`),
as any client would ask for them."""

import asyncio

import msgspec

from services.vector_stores.context import Context
from shared import errors, subjects
from shared.bus import NoResponders
from shared.protocol.bus import Envelope
from shared.protocol.embeddings import EmbeddingList, EmbeddingRequest

_encode = msgspec.json.Encoder().encode
_answer = msgspec.json.Decoder(EmbeddingList).decode


async def embed(ctx: Context, texts: list[str], *, project: str, request_id: str) -> list[list[float]]:
    """One vector per text, in order, `embedding_batch` texts per call."""
    vectors: list[list[float]] = []
    size = ctx.settings.embedding_batch
    for start in range(0, len(texts), size):
        request = EmbeddingRequest(model=ctx.settings.embedding_model, input=texts[start:start + size])
        envelope = Envelope(request_id=request_id, project=project, body=msgspec.Raw(_encode(request)))
        try:
            async with asyncio.timeout(ctx.settings.call_timeout):
                body = await ctx.caller.call(subjects.EMBEDDINGS, envelope, idle_timeout=ctx.settings.call_idle_timeout)
        except NoResponders:
            raise errors.service_unavailable("embeddings") from None
        except TimeoutError:
            raise errors.timed_out("embeddings") from None
        vectors += [item.embedding for item in sorted(_answer(body).data, key=lambda item: item.index)]
    return vectors
