"""`POST /v1/responses/compact`'s item: a `compaction` item stands for the earlier items of a
context, as the model summarized them, and a later request sends it back in their place. Its
content is opaque to the client (base64 JSON; nothing is in it that the client did not send)."""

import base64

import msgspec

from shared import errors
from shared.protocol.responses import Compaction

# What the model is asked for when a context is compacted, and how its summary reads back.
SUMMARIZE = ("Summarize the conversation so far for whoever continues it: the facts, decisions, tool results "
             "and open tasks it needs, in a few short paragraphs. Write only the summary.")
HEADING = "Summary of the conversation before this point:\n"


class _Summary(msgspec.Struct):
    summary: str


_encode = msgspec.json.Encoder().encode
_summary = msgspec.json.Decoder(_Summary).decode


def item(summary: str) -> Compaction:
    return Compaction(encrypted_content=base64.b64encode(_encode(_Summary(summary=summary))).decode())


def summary_of(compacted: Compaction, *, index: int) -> str:
    try:
        return _summary(base64.b64decode(compacted.encrypted_content, validate=True)).summary
    except (ValueError, msgspec.DecodeError, msgspec.ValidationError):
        raise errors.invalid_request("This compaction item was not made here: its content cannot be read.",
                                     param=f"input[{index}].encrypted_content", code="invalid_value") from None
