"""The JetStream buckets that carry tuned models from the jobs service to every chat replica."""

from nats.js import JetStreamContext
from nats.js.kv import KeyValue
from nats.js.object_store import ObjectStore

from shared import subjects


async def buckets(js: JetStreamContext) -> tuple[KeyValue, ObjectStore]:
    """The models' KV bucket (key: job id, value: `FineTunedModel`) and the adapters' object store;
    made on first use (creating an existing bucket with the same config is a no-op)."""
    kv = await js.create_key_value(bucket=subjects.FINE_TUNED_BUCKET, history=1)
    store = await js.create_object_store(bucket=subjects.ADAPTERS_BUCKET)
    return kv, store
