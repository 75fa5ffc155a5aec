"""The files a service reads and writes (jobs, vector stores), through the files service like any
client: a file's bytes are read as a stream from a presigned URL (`vivian.files.content`), and a new file
(a batch's output, a fine-tune's results) is staged, streamed and committed
(`vivian.files.stage` … `vivian.files.create`) with `services.kit.presigned`, the edge's own upload
path. Nothing is held whole in memory."""

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import msgspec

from services.kit.presigned import PresignedUpload
from shared import errors, subjects
from shared.bus import Caller, NoResponders
from shared.protocol.bus import Envelope
from shared.protocol.files import (
    Download,
    ExpiresAfter,
    FileCommit,
    FileObject,
    StageAbort,
    StageParts,
    StagePartsRequest,
    StageRequest,
    StageTarget,
)

log = logging.getLogger("files_client")
_encode = msgspec.json.Encoder().encode
_file = msgspec.json.Decoder(FileObject).decode
_download = msgspec.json.Decoder(Download).decode
_target = msgspec.json.Decoder(StageTarget).decode
_parts = msgspec.json.Decoder(StageParts).decode
READ_BYTES = 256 * 1024


class Files:
    def __init__(self, caller: Caller, http: aiohttp.ClientSession, *, timeout: float, idle_timeout: float) -> None:
        self._caller, self.http = caller, http
        self._timeout, self._idle_timeout = timeout, idle_timeout

    async def call(self, subject: str, payload: Any, decode: Callable[[bytes], Any], *, project: str,
                   request_id: str) -> Any:
        envelope = Envelope(request_id=request_id, project=project, body=msgspec.Raw(_encode(payload)))
        try:
            async with asyncio.timeout(self._timeout):
                body = await self._caller.call(subject, envelope, idle_timeout=self._idle_timeout)
        except NoResponders:
            raise errors.service_unavailable("files") from None
        except TimeoutError:
            raise errors.timed_out("files") from None
        return decode(body)

    async def retrieve(self, file_id: str, *, project: str, request_id: str) -> FileObject:
        """The file, if `project` may see it; the files service's 404 otherwise."""
        return await self.call(subjects.FILES_RETRIEVE, file_id, _file, project=project, request_id=request_id)

    async def lines(self, file_id: str, *, project: str, request_id: str, start: int = 0,
                    end: int | None = None) -> AsyncIterator[tuple[int, bytes]]:
        """Each line of the file (without its newline) with the offset of its first byte, read as
        a stream; `start`/`end` read only bytes [start, end) (an HTTP range)."""
        source = await self.call(subjects.FILES_CONTENT, file_id, _download, project=project, request_id=request_id)
        headers = {}
        if start or end is not None:
            headers["Range"] = f"bytes={start}-" + ("" if end is None else str(end - 1))
        async with self.http.get(source.url, headers=headers) as response:
            if response.status not in (200, 206):
                log.error("request_id=%s object store GET failed: %d", request_id, response.status)
                raise errors.ApiError(502, "The object store did not return the file; it will be retried.",
                                      type="server_error", code="storage_error")
            offset, partial = start, bytearray()
            async for chunk in response.content.iter_chunked(READ_BYTES):
                begin = 0
                while (newline := chunk.find(b"\n", begin)) != -1:
                    partial += chunk[begin:newline]
                    yield offset, bytes(partial)
                    offset += len(partial) + 1
                    partial.clear()
                    begin = newline + 1
                partial += chunk[begin:]
            if partial:
                yield offset, bytes(partial)

    async def chunks(self, file_id: str, *, project: str, request_id: str) -> AsyncIterator[bytes]:
        """The file's bytes as they arrive from the object store (to send them on as a stream)."""
        source = await self.call(subjects.FILES_CONTENT, file_id, _download, project=project, request_id=request_id)
        async with self.http.get(source.url) as response:
            if response.status != 200:
                log.error("request_id=%s object store GET failed: %d", request_id, response.status)
                raise errors.ApiError(502, "The object store did not return the file.", type="server_error",
                                      code="storage_error")
            async for chunk in response.content.iter_chunked(READ_BYTES):
                yield chunk

    def writer(self, *, project: str, purpose: str, filename: str, request_id: str,
               expires_after: ExpiresAfter | None = None) -> "FileWriter":
        return FileWriter(self, project=project, purpose=purpose, filename=filename, request_id=request_id,
                          expires_after=expires_after)


class FileWriter:
    """A new file, written front to back; staged on the first byte. `commit()` makes it a file
    (None when nothing was written: the files service keeps no empty files); on failure,
    `abort()` gives up the stage at once (else the files service's sweep does, later)."""

    def __init__(self, files: Files, *, project: str, purpose: str, filename: str, request_id: str,
                 expires_after: ExpiresAfter | None) -> None:
        self._files = files
        self._project, self._purpose, self._filename = project, purpose, filename
        self._request_id, self._expires_after = request_id, expires_after
        self._upload: PresignedUpload | None = None
        self._target: StageTarget | None = None

    async def _call(self, subject: str, payload: Any, decode: Callable[[bytes], Any]) -> Any:
        return await self._files.call(subject, payload, decode, project=self._project, request_id=self._request_id)

    async def write(self, data: bytes) -> None:
        if self._upload is None:
            self._target = await self._call(subjects.FILES_STAGE, StageRequest(), _target)
            target_id = self._target.id

            async def part_urls(first: int, count: int) -> list[str]:
                answer = await self._call(subjects.FILES_STAGE_PARTS,
                                          StagePartsRequest(id=target_id, first=first, count=count), _parts)
                return answer.urls

            self._upload = PresignedUpload(self._files.http, self._target, part_urls, log_id=self._request_id)
        await self._upload.write(data)

    async def commit(self) -> FileObject | None:
        if self._upload is None:
            return None
        staged = await self._upload.finish()
        commit = FileCommit(staged=staged, purpose=self._purpose, filename=self._filename,
                            expires_after=self._expires_after, produced=True)
        return await self._call(subjects.FILES_CREATE, commit, _file)

    async def abort(self) -> None:
        if self._upload is None or self._target is None:
            return
        await self._upload.discard()
        try:
            await self._call(subjects.FILES_STAGE_ABORT, StageAbort(id=self._target.id), bytes)
        except Exception:  # the files service's sweep removes the stage later
            log.warning("request_id=%s could not give up stage %s now", self._request_id, self._target.id,
                        exc_info=True)
