"""`POST /v1/embeddings` on a local model: inputs → token ids → vectors → OpenAI's list object."""

import asyncio
import base64
from typing import TYPE_CHECKING

import msgspec
import numpy as np

from shared import errors
from shared.protocol.embeddings import Embedding, EmbeddingList, EmbeddingRequest, EmbeddingUsage

if TYPE_CHECKING:  # the provider calls this module
    from services.embeddings.providers.onnx_embedding import OnnxEmbedding

_encode = msgspec.json.Encoder().encode
_TOKENIZE_INLINE = 8  # inputs tokenised on the event loop; more go to a thread


def _inputs(value) -> list[str | list[int]]:
    """OpenAI's four input shapes as one list of texts or token-id lists."""
    if isinstance(value, str):
        return [value]
    if all(isinstance(v, int) for v in value):
        return [value]  # one input given as token ids
    if all(isinstance(v, str) for v in value) or all(isinstance(v, list) for v in value):
        return value
    raise errors.invalid_request("'input' must be a string, an array of strings, an array of token ids or an "
                                 "array of token-id arrays, not a mix.", param="input")


async def create(request: EmbeddingRequest, model: "OnnxEmbedding", public_id: str, *, request_id: str = "") -> bytes:
    inputs = _inputs(request.input)
    for n, item in enumerate(inputs):
        if not item:
            raise errors.invalid_request(f"'input[{n}]' is empty; every input must hold text or tokens.",
                                         param="input")
    width = model.entry.dimensions
    if request.dimensions is not None:
        if request.dimensions > width:
            raise errors.invalid_request(f"'dimensions' must be at most {width} for this model.", param="dimensions")
        width = request.dimensions
    if len(inputs) > _TOKENIZE_INLINE:
        # In a thread (the tokenizer lets go of the GIL): 2048 long inputs take seconds, which on
        # the event loop would hold up every other request, heartbeats and cancels included.
        token_ids = await asyncio.to_thread(model.token_ids, inputs)
    else:  # a few inputs take microseconds: not worth a thread hop
        token_ids = model.token_ids(inputs)
    vectors = await model.embed(token_ids, request_id=request_id)
    if width != vectors.shape[1]:  # shortened as OpenAI does for its v3 models: the first values, renormalised
        vectors = vectors[:, :width]
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    as_base64 = request.encoding_format == "base64"
    data = [Embedding(index=i, embedding=base64.b64encode(v.astype("<f4").tobytes()).decode() if as_base64
                      else v.tolist()) for i, v in enumerate(vectors)]
    tokens = sum(len(ids) for ids in token_ids)
    return _encode(EmbeddingList(data=data, model=public_id,
                                 usage=EmbeddingUsage(prompt_tokens=tokens, total_tokens=tokens)))
