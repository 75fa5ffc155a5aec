"""Room for bytes before they arrive, and the bytes' arrival.

File bytes go from the edge straight to the object store on presigned URLs; this service never
carries them and no NATS message does (NATS caps a message near 1 MiB). We chose presigned URLs
over chunked NATS messages because HTTP already has the flow control that chunking over NATS would
need built by hand (credits, acks, ordering), the bytes make one hop (edge → store) instead of two,
and a files service replica that dies during a transfer does not break it (the commit, a plain bus
call, then fails and the client retries).

The life of a staged object:

1. `stage`: a record in state `staged` is written first, then the edge gets a presigned PUT URL.
2. The edge reads the client's bytes a part (`PART_BYTES`) at a time. All of it within one part:
   one PUT. More: it asks `part_urls` for presigned part URLs of a multipart upload.
3. `finish` (on the commit call): completes the multipart upload, checks the stored size against
   what the edge counted. The caller validates and turns the record `ready`, or `remove`s it all.

A record is never `ready` before its bytes are whole, so no client sees a file with bytes missing.
A crash anywhere leaves a `staged` record (past `stage_until`, a sweep removes it and its bytes)
or a `deleting` one (the sweep finishes the delete).
"""

import contextlib
import logging
import time
from collections.abc import AsyncIterator

from services.files.context import Context
from services.files.tables import ObjectRecord, UploadRecord
from services.kit.tables import Table, new_id, sequence
from shared import errors
from shared.protocol.files import (
    StageAbort,
    Staged,
    StageParts,
    StagePartsRequest,
    StageTarget,
)

log = logging.getLogger("files")

MiB = 1024 * 1024
PART_BYTES = 8 * MiB  # what the edge holds of one upload at a time; S3 parts are at least 5 MiB
MAX_PART_DATA = 64 * MiB  # one part of an Upload, as on OpenAI
FILE_PREFIX, PART_PREFIX = "file-", "part_"


def table_for(ctx: Context, record_id: str) -> Table[ObjectRecord]:
    return ctx.records.parts if record_id.startswith(PART_PREFIX) else ctx.records.files


def file_record(project: str, *, now_ns: int, stage_for: float) -> ObjectRecord:
    file_id = new_id(FILE_PREFIX)
    return ObjectRecord(id=file_id, project=project, state="staged", key=f"{project}/files/{file_id}",
                        seq=sequence(now_ns, file_id), created_at=now_ns // 10**9,
                        stage_until=now_ns // 10**9 + int(stage_for))


async def stage_file(ctx: Context, project: str) -> StageTarget:
    record = file_record(project, now_ns=time.time_ns(), stage_for=ctx.settings.staging_timeout)
    return await _stage(ctx, record, limit=ctx.settings.max_file_bytes)


async def stage_part(ctx: Context, upload: UploadRecord) -> StageTarget:
    now_ns = time.time_ns()
    part_id = new_id(PART_PREFIX)
    # A part lives no longer than its Upload.
    record = ObjectRecord(id=part_id, project=upload.project, state="staged", upload_id=upload.id,
                          key=f"{upload.project}/uploads/{upload.id}/{part_id}", seq=sequence(now_ns, part_id),
                          created_at=now_ns // 10**9, expires_by=upload.expires_at,
                          stage_until=min(upload.expires_at, now_ns // 10**9 + int(ctx.settings.staging_timeout)))
    return await _stage(ctx, record, limit=MAX_PART_DATA)


async def _stage(ctx: Context, record: ObjectRecord, *, limit: int) -> StageTarget:
    await table_for(ctx, record.id).insert(record)
    return StageTarget(id=record.id, put_url=ctx.objects.put_url(record.key, expires=_url_seconds(record)),
                       part_bytes=PART_BYTES, max_bytes=limit)


def _url_seconds(record: ObjectRecord) -> float:
    # URLs die with the stage: once the sweep may remove a stage, no URL can write to it any more,
    # so nothing lands in the store after its record is gone.
    return max(1.0, record.stage_until - time.time())


async def _staged(ctx: Context, project: str, record_id: str) -> ObjectRecord:
    record = await table_for(ctx, record_id).get({"_id": record_id, "project": project, "state": "staged"})
    if record is None:
        raise errors.ApiError(404, f"No upload in progress for {record_id}; start again.", param="file",
                              code="upload_not_found")
    return record


async def part_urls(ctx: Context, project: str, request: StagePartsRequest) -> StageParts:
    record = await _staged(ctx, project, request.id)
    if not record.multipart:
        multipart = await ctx.objects.start_multipart(record.key)
        # Only the first of two racing callers gets its multipart upload recorded; the other's is
        # aborted here (or, after a crash, by the sweep of stale multipart uploads).
        claimed = await table_for(ctx, record.id).update({"_id": record.id, "state": "staged", "multipart": ""},
                                                         {"multipart": multipart})
        if claimed is None:
            await ctx.objects.abort_multipart(record.key, multipart)
            record = await _staged(ctx, project, request.id)
        else:
            record = claimed
    expires = _url_seconds(record)
    return StageParts(urls=[ctx.objects.part_url(record.key, record.multipart, number, expires=expires)
                            for number in range(request.first, request.first + request.count)])


async def finish(ctx: Context, project: str, staged: Staged) -> ObjectRecord:
    """The staged record, once its bytes are whole in the store and as many as the edge sent."""
    record = await _staged(ctx, project, staged.id)
    async with discarding(ctx, record):
        if staged.etags:
            if not record.multipart:
                raise errors.invalid_request("Parts were sent without a multipart upload.", param="file")
            await ctx.objects.finish_multipart(record.key, record.multipart, staged.etags)
        stored = await ctx.objects.size(record.key)
        if stored != staged.bytes:
            log.error("staged %s: the edge sent %d bytes, the store holds %s", record.id, staged.bytes, stored)
            raise errors.server_error("The file's bytes did not all arrive; please retry.")
    record.bytes = stored
    return record


async def abort(ctx: Context, project: str, request: StageAbort) -> None:
    """The edge gave up on a stage (client gone, limit passed): its bytes and record go now."""
    record = await table_for(ctx, request.id).get({"_id": request.id, "project": project, "state": "staged"})
    if record is not None:
        await remove(ctx, record)


async def remove(ctx: Context, record: ObjectRecord) -> None:
    """Delete an object and then its record (in that order: a crash between leaves a record the
    sweep finishes, never an object nothing points at)."""
    if record.multipart:
        await ctx.objects.abort_multipart(record.key, record.multipart)
    await ctx.objects.remove(record.key)
    await table_for(ctx, record.id).delete({"_id": record.id})


@contextlib.asynccontextmanager
async def discarding(ctx: Context, record: ObjectRecord) -> AsyncIterator[None]:
    """Whatever goes wrong inside takes the staged bytes and record with it: a failed upload
    leaves nothing behind."""
    try:
        yield
    except BaseException:
        try:
            await remove(ctx, record)
        except Exception:  # the store is down too: the sweep removes it later
            log.warning("could not remove staged %s now; the sweep will", record.id, exc_info=True)
        raise
