"""The JetStream object store that carries audio files between the edge and the audio service.

A file never rides one NATS message: the object store cuts it into chunks (128 KiB) on a stream
of their own, and the bus message carries the object's name. The edge writes, the service reads
and deletes; the bucket's TTL removes whatever a crash leaves behind.
"""

import asyncio
from collections.abc import Awaitable, Callable

from nats.js import JetStreamContext
from nats.js.errors import BucketNotFoundError, NotFoundError
from nats.js.object_store import ObjectStore

from shared.subjects import AUDIO_BUCKET

TTL_SECONDS = 3600.0
MAX_BYTES = 4 * 1024**3  # the bucket's cap: many files in flight, each at most 25 MB
CHUNK = 128 * 1024


async def bucket(js: JetStreamContext) -> ObjectStore:
    """The audio bucket, created the first time either side needs it."""
    try:
        return await js.object_store(AUDIO_BUCKET)
    except (BucketNotFoundError, NotFoundError):
        return await js.create_object_store(AUDIO_BUCKET, ttl=TTL_SECONDS, max_bytes=MAX_BYTES,
                                            description="audio files on their way to the audio service")


class StreamReader:
    """A blocking `readinto` over an async source of chunks, for `ObjectStore.put`, which calls
    `readinto` in a worker thread: each call waits for the event loop to read the next piece, so
    the file streams through in bounded memory instead of being held whole."""

    def __init__(self, read: Callable[[int], Awaitable[bytes]], loop: asyncio.AbstractEventLoop) -> None:
        self._read, self._loop = read, loop
        self._pending = b""

    def readinto(self, buffer) -> int:
        view = memoryview(buffer)
        filled = 0
        while filled < len(view):
            if not self._pending:
                self._pending = asyncio.run_coroutine_threadsafe(self._read(len(view) - filled), self._loop).result()
                if not self._pending:
                    break
            n = min(len(self._pending), len(view) - filled)
            view[filled : filled + n] = self._pending[:n]
            self._pending = self._pending[n:]
            filled += n
        return filled
