"""What travels between the edge and the services over NATS.

A request is an `Envelope` published with a reply subject. The service answers on that subject
with one or more `Frame`s: a unary call gets a single `Data` (or `Failure`); a stream gets `Data`
frames, then `Done` (or `Failure`). `Heartbeat`s flow while a service works and has nothing to
send yet, so the edge can tell a slow model from a dead service.

Trace context (W3C `traceparent`, `tracestate`) rides in the request's NATS message headers when
tracing is on.
"""

import msgspec

from shared.protocol.errors import ErrorObject


class Envelope(msgspec.Struct, kw_only=True):
    request_id: str
    project: str = ""
    # The client's JSON body, untouched: typed decoding happens in the service, and upstream
    # providers relay fields we do not model.
    body: msgspec.Raw = msgspec.Raw(b"null")
    # Unix time (seconds) by which a service must take the request: the caller stops waiting for a
    # first frame soon after, and tells its client the call failed. A service that receives the
    # request later (it sat in a reconnect buffer, or the service was stalled) drops it unanswered,
    # so a request that was answered as failed never runs. 0: no deadline.
    deadline: float = 0.0
    # When the body is too large for one NATS message: the name of the object in the
    # `vivian_bodies` object store that holds it (shared/bodystore.py), and `body` is null.
    body_ref: str = ""


class TokenCounts(msgspec.Struct, kw_only=True):
    """The `usage` a model reported, as far as the edge needs it (metrics, trace attributes)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0


class Data(msgspec.Struct, tag="data", tag_field="t", omit_defaults=True):
    body: msgspec.Raw
    # On a unary answer: the answer's token counts, so the edge need not parse the body for them.
    usage: TokenCounts | None = None


class Heartbeat(msgspec.Struct, tag="hb", tag_field="t"):
    pass


class Failure(msgspec.Struct, tag="error", tag_field="t"):
    status: int
    error: ErrorObject


class Done(msgspec.Struct, tag="done", tag_field="t", omit_defaults=True):
    # The stream's token counts, when a chunk reported them (`stream_options.include_usage`).
    usage: TokenCounts | None = None


class Blob(msgspec.Struct, tag="blob", tag_field="t", omit_defaults=True):
    """A piece of a binary answer (audio), in order; the first names its content type. A binary
    answer is `Blob`s, then `Done`."""

    data: bytes  # base64 in the JSON frame
    content_type: str = ""


Frame = Data | Heartbeat | Failure | Done | Blob
