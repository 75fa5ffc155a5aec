"""Bytes to the object store on presigned URLs, for every process that writes a file: the edge (a
client's upload) and the jobs service (a batch's output). Both stage the object with the files
service first (`vivian.files.stage`), push the bytes here in order, then commit the `Staged` it
returns (`vivian.files.create`).

At most two parts are held in memory (the one being filled and the one being sent,
`StageTarget.part_bytes` each), and `write` waits for the store (TCP flow control), so a fast
producer never grows memory.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import aiohttp

from shared import errors
from shared.protocol.files import Staged, StageTarget

log = logging.getLogger("presigned")

URL_BATCH = 16  # part URLs asked for at a time

# (first part number, how many) -> that many presigned part URLs (`vivian.files.stage.parts`)
PartUrls = Callable[[int, int], Awaitable[list[str]]]


class PresignedUpload:
    """One staged object, written front to back: one PUT when it all fits in one part, else the
    store's multipart upload. `finish()` for the `Staged` to commit; on failure, `discard()` stops
    a part still in flight (the caller gives up the stage with the files service)."""

    def __init__(self, http: aiohttp.ClientSession, target: StageTarget, part_urls: PartUrls, *,
                 param: str = "file", log_id: str = "") -> None:
        self._http = http
        self._target = target
        self._part_urls = part_urls
        self._param = param
        self._log_id = log_id
        self._urls: list[str] = []  # part URLs not used yet
        self._etags: list[str] = []
        self._sending: asyncio.Task | None = None  # the part on its way
        self._pending = bytearray()
        self.bytes = 0

    async def write(self, chunk: bytes) -> None:
        size, limit = self._target.part_bytes, self._target.max_bytes
        self.bytes += len(chunk)
        if self.bytes > limit:
            raise errors.ApiError(413, f"The file is too large: the limit is {limit} bytes.", param=self._param,
                                  code="file_too_large")
        self._pending += chunk
        # Strictly more than a part: a file of exactly one part still goes in one PUT.
        while len(self._pending) > size:
            with memoryview(self._pending) as view:
                data = bytes(view[:size])
            del self._pending[:size]
            await self._send_part(data)

    async def finish(self) -> Staged:
        try:
            if self._sending is None:
                await self._put(self._target.put_url, bytes(self._pending))
            else:
                await self._send_part(bytes(self._pending))
                await self._sending
                self._sending = None
        finally:
            self._pending.clear()
        return Staged(id=self._target.id, bytes=self.bytes, etags=self._etags)

    async def discard(self) -> None:
        if self._sending is not None:  # its error, if any, is collected here
            self._sending.cancel()
            with contextlib.suppress(BaseException):
                await self._sending
            self._sending = None

    async def _send_part(self, data: bytes) -> None:
        """Start sending `data` as the next part once the previous one is through."""
        if self._sending is not None:
            await self._sending
        if not self._urls:
            self._urls = list(await self._part_urls(len(self._etags) + 1, URL_BATCH))
        url = self._urls.pop(0)
        self._etags.append("")
        number = len(self._etags)
        self._sending = asyncio.create_task(self._put_part(url, data, number))

    async def _put_part(self, url: str, data: bytes, number: int) -> None:
        self._etags[number - 1] = await self._put(url, data)

    async def _put(self, url: str, data: bytes) -> str:
        async with self._http.put(url, data=data) as response:
            if response.status != 200:
                log.error("request_id=%s object store PUT failed: %d %s", self._log_id, response.status,
                          (await response.text())[:500])
                raise errors.ApiError(502, "The object store refused the file's bytes; please retry.",
                                      type="server_error", code="storage_error")
            return response.headers.get("ETag", "")
