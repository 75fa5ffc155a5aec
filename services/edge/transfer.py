"""File bytes between HTTP clients and the object store, beside the bus.

The files service hands the edge presigned object-store URLs (why: services/files/staging.py); the
edge streams to and from them with its own aiohttp client. An upload goes through
`services.kit.presigned` (shared with the jobs service), which holds at most two parts in memory (the
one being read and the one being sent, `StageTarget.part_bytes` each); a download holds
aiohttp's read buffer, and both sides wait for the slower one (TCP flow control), so neither a
slow client nor a fast store grows memory.
"""

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import msgspec
from aiohttp import web
from aiohttp.helpers import content_disposition_header
from aiohttp.multipart import BodyPartReader

from services.edge.context import CALLER, PROJECT, REQUEST_ID, SETTINGS
from services.kit.presigned import PresignedUpload
from shared import errors, subjects
from shared.bus import BusUnavailable, NoResponders
from shared.protocol.bus import Envelope
from shared.protocol.files import (
    Download,
    StageAbort,
    Staged,
    StageParts,
    StagePartsRequest,
    StageTarget,
)

log = logging.getLogger("edge")
_encode = msgspec.json.Encoder().encode
_parts = msgspec.json.Decoder(StageParts).decode

HTTP = web.AppKey("object_store_http", aiohttp.ClientSession)
READ_BYTES = 256 * 1024  # what one read from the client or the store returns at most


async def http_client(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: the client for presigned URLs. No total timeout (a large file takes as long as
    it takes), but a store that stops answering fails the transfer."""
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=120)
    async with aiohttp.ClientSession(timeout=timeout, auto_decompress=False) as session:
        app[HTTP] = session
        yield


async def ask(request: web.Request, subject: str, payload: msgspec.Struct, decode: Callable[[bytes], Any]) -> Any:
    """A unary call to the service behind `subject` (files, images) whose answer is for the edge
    itself, not the client."""
    settings = request.app[SETTINGS]
    envelope = Envelope(request_id=request[REQUEST_ID], project=request.get(PROJECT, ""),
                        body=msgspec.Raw(_encode(payload)))
    try:
        async with asyncio.timeout(settings.request_timeout):
            body = await request.app[CALLER].call(subject, envelope, idle_timeout=settings.stream_idle_timeout,
                                                  accept_timeout=settings.accept_timeout)
    except BusUnavailable:
        raise errors.bus_unavailable() from None
    except NoResponders:
        raise errors.service_unavailable(subject.split(".")[1]) from None
    except TimeoutError:
        raise errors.timed_out(subject.split(".")[1]) from None
    return decode(body)


# ---------------------------------------------------------------- upload


async def upload(request: web.Request, part: BodyPartReader, target: StageTarget, *,
                 abort_subject: str = subjects.FILES_STAGE_ABORT) -> Staged:
    """Stream one form part into the object store where `target` says; on any failure (the
    client went away, the limit was passed, the store refused) the stage is given up at once,
    through `abort_subject` of the service that staged it."""

    async def part_urls(first: int, count: int) -> list[str]:
        answer = await ask(request, subjects.FILES_STAGE_PARTS,
                           StagePartsRequest(id=target.id, first=first, count=count), _parts)
        return answer.urls

    sender = PresignedUpload(request.app[HTTP], target, part_urls, param=part.name or "file",
                             log_id=request[REQUEST_ID])
    try:
        while chunk := await part.read_chunk(READ_BYTES):
            await sender.write(chunk)
        return await sender.finish()
    except BaseException:
        await sender.discard()
        await abort(request, target.id, subject=abort_subject)
        raise


async def abort(request: web.Request, staged_id: str, *, subject: str = subjects.FILES_STAGE_ABORT) -> None:
    """Give up a stage: its bytes and record go now. Shielded, since it mostly runs because the
    request is being cancelled (the client went away)."""

    async def give_up() -> None:
        try:
            await ask(request, subject, StageAbort(id=staged_id), bytes)
        except Exception:  # the files service is gone too: its sweep removes the stage later
            log.warning("request_id=%s could not give up stage %s now", request[REQUEST_ID], staged_id,
                        exc_info=True)

    await asyncio.shield(give_up())


# ---------------------------------------------------------------- download


async def download(request: web.Request, source: Download) -> web.StreamResponse:
    """Stream the object at `source.url` to the client."""
    try:
        upstream = await request.app[HTTP].get(source.url)
    except (aiohttp.ClientError, TimeoutError) as err:
        log.error("request_id=%s object store unreachable: %r", request[REQUEST_ID], err)
        raise errors.ApiError(502, "The object store is unreachable; please retry.", type="server_error",
                              code="storage_error") from None
    async with upstream:
        if upstream.status == 404:  # deleted between the lookup and now
            raise errors.ApiError(404, "No such File object.", param="id", code="file_not_found")
        if upstream.status != 200:
            log.error("request_id=%s object store GET failed: %d %s", request[REQUEST_ID], upstream.status,
                      (await upstream.text())[:500])
            raise errors.ApiError(502, "The object store did not return the file; please retry.",
                                  type="server_error", code="storage_error")
        response = web.StreamResponse(headers={
            "Content-Type": source.content_type,
            "Content-Disposition": content_disposition_header("inline" if source.inline else "attachment",
                                                              filename=source.filename)})
        response.content_length = source.bytes
        await response.prepare(request)
        try:
            async for chunk in upstream.content.iter_chunked(READ_BYTES):
                await response.write(chunk)
        except (aiohttp.ClientError, TimeoutError) as err:
            # The headers are out: a cut connection (fewer bytes than Content-Length) is the only
            # honest signal left, never a quietly short file.
            log.error("request_id=%s object store failed mid-download: %r", request[REQUEST_ID], err)
            if request.transport is not None:
                request.transport.close()
            return response
        await response.write_eof()
        return response
