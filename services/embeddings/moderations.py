"""`POST /v1/moderations` on a local classifier: per input, flags and scores in OpenAI's categories."""

import secrets
from typing import TYPE_CHECKING

import msgspec

from shared import errors
from shared.protocol.moderations import CATEGORIES, Moderation, ModerationRequest, ModerationResult, TextInput

if TYPE_CHECKING:  # the provider calls this module
    from services.embeddings.providers.toxic_bilstm import ToxicBiLSTM

_encode = msgspec.json.Encoder().encode


def _texts(value) -> list[str]:
    """The texts to judge, one result each.

    A string or an array of strings gives one result per string. An array of parts is one input
    (OpenAI's multi-modal form): its texts are judged together, as one result; its images are not
    judged here (the result says so: no category applies to them)."""
    if isinstance(value, str):
        return [value]
    if all(isinstance(v, str) for v in value):
        return value
    if any(isinstance(v, str) for v in value):
        raise errors.invalid_request("'input' must be a string, an array of strings or an array of text and "
                                     "image parts, not a mix.", param="input")
    return [" ".join(part.text for part in value if isinstance(part, TextInput))]


async def create(request: ModerationRequest, model: "ToxicBiLSTM", public_id: str) -> bytes:
    texts = _texts(request.input)
    results = []
    for scores in await model.scores(texts):
        flags = {c: scores[c] >= model.entry.thresholds.get(c, model.entry.threshold) for c in CATEGORIES}
        # Only text was scored: an image part is not applied to any category, and OpenAI says so here.
        results.append(ModerationResult(flagged=any(flags.values()), categories=flags, category_scores=scores,
                                        category_applied_input_types={c: ["text"] for c in CATEGORIES}))
    return _encode(Moderation(id="modr-" + secrets.token_hex(16), model=public_id, results=results))
