"""The JetStream object store that carries request bodies too large for one NATS message.

A caller whose envelope would pass the server's `max_payload` puts the body here and sends the
envelope with the object's name (`Envelope.body_ref`); the service that takes the request reads
the body and deletes it. The bucket's TTL removes what a crash leaves behind. (Answers go the
other way as fragments on the reply subject: see `shared.bus`.)
"""

from nats.js import JetStreamContext
from nats.js.errors import BucketNotFoundError, NotFoundError
from nats.js.object_store import ObjectStore

from shared.subjects import BODIES_BUCKET

TTL_SECONDS = 600.0  # far past any request's deadline
MAX_BYTES = 4 * 1024**3


async def bucket(js: JetStreamContext) -> ObjectStore:
    """The bodies bucket, created the first time a caller needs it."""
    try:
        return await js.object_store(BODIES_BUCKET)
    except (BucketNotFoundError, NotFoundError):
        return await js.create_object_store(BODIES_BUCKET, ttl=TTL_SECONDS, max_bytes=MAX_BYTES,
                                            description="request bodies too large for one bus message")


async def put(js: JetStreamContext, name: str, body: bytes) -> None:
    await (await bucket(js)).put(name, body)


async def take(js: JetStreamContext, name: str) -> bytes:
    """The body stored under `name`, deleted from the store once read."""
    store = await bucket(js)
    body = (await store.get(name)).data or b""
    try:
        await store.delete(name)
    except NotFoundError:
        pass
    return body
