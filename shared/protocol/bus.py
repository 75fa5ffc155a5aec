"""What travels between the edge and the services over NATS.

A request is an `Envelope` published with a reply subject. The service answers on that subject
with one or more `Frame`s: a unary call gets a single `Data` (or `Failure`); a stream gets `Data`
frames, then `Done` (or `Failure`). `Heartbeat`s flow while a service works and has nothing to
send yet, so the edge can tell a slow model from a dead service.
"""

import msgspec

from shared.protocol.errors import ErrorObject


class Envelope(msgspec.Struct, kw_only=True):
    request_id: str
    project: str = ""
    # The client's JSON body, untouched: typed decoding happens in the service, and upstream
    # providers relay fields we do not model.
    body: msgspec.Raw = msgspec.Raw(b"null")


class Data(msgspec.Struct, tag="data", tag_field="t"):
    body: msgspec.Raw


class Heartbeat(msgspec.Struct, tag="hb", tag_field="t"):
    pass


class Failure(msgspec.Struct, tag="error", tag_field="t"):
    status: int
    error: ErrorObject


class Done(msgspec.Struct, tag="done", tag_field="t"):
    pass


Frame = Data | Heartbeat | Failure | Done
