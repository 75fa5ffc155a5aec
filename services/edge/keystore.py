"""The edge's local copy of the key bucket, kept current by a JetStream watch.

Looking a key up is a dict access: no round trip per request. A revoked key disappears from every
edge's copy as soon as the watch delivers the purge (milliseconds on a healthy bus).
"""

import asyncio
import logging

import msgspec
from nats.js.client import JetStreamContext
from nats.js.kv import KV_DEL, KV_PURGE

from services.edge.keys import buckets, key_hash
from shared.protocol.keys import KeyRecord

log = logging.getLogger("edge.keys")
_decode = msgspec.json.Decoder(KeyRecord).decode


class KeyStore:
    def __init__(self) -> None:
        self._records: dict[str, KeyRecord] = {}
        self._task: asyncio.Task | None = None
        self._watcher = None

    def lookup(self, key: str) -> KeyRecord | None:
        return self._records.get(key_hash(key))

    async def start(self, js: JetStreamContext) -> None:
        """Load every key, then keep following changes in the background."""
        keys, _ = await buckets(js)
        self._watcher = await keys.watchall()
        async for entry in self._watcher:
            if entry is None:  # initial values delivered
                break
            self._apply(entry)
        self._task = asyncio.create_task(self._follow())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._watcher is not None:
            await self._watcher.stop()

    async def _follow(self) -> None:
        async for entry in self._watcher:
            if entry is not None:
                self._apply(entry)

    def _apply(self, entry) -> None:
        if entry.operation in (KV_DEL, KV_PURGE) or not entry.value:
            self._records.pop(entry.key, None)
            return
        try:
            self._records[entry.key] = _decode(entry.value)
        except (msgspec.DecodeError, msgspec.ValidationError):
            log.warning("ignoring a malformed key record %s…", entry.key[:8])
