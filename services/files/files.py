"""`/v1/files`: create (commit staged bytes), list, retrieve, delete, content; and the staging calls
the edge makes while it streams a file's bytes (see `staging.py`)."""

import time

from services.files import staging, uploads, validate
from services.files.context import Context
from services.files.shapes import decoder, file_object
from services.files.tables import NEVER, ObjectRecord
from services.kit.tables import page
from shared import errors
from shared.protocol.bus import Envelope
from shared.protocol.files import (
    Download,
    FileCommit,
    FileDeleted,
    FileList,
    FileListQuery,
    FileObject,
    StageAbort,
    StageParts,
    StagePartsRequest,
    StageRequest,
    StageTarget,
)

_file_id = decoder(str)
_stage = decoder(StageRequest)
_stage_parts = decoder(StagePartsRequest)
_stage_abort = decoder(StageAbort)
_commit = decoder(FileCommit)
_query = decoder(FileListQuery)
# A presigned download URL only has to last until the edge starts reading.
DOWNLOAD_URL_SECONDS = 300


def not_found(file_id: str) -> errors.ApiError:
    return errors.ApiError(404, f"No such File object: {file_id}", param="id", code="file_not_found")


def visible(project: str, file_id: str) -> dict:
    """A file this project may see: its own, whole, not expired (the sweep may not have run yet)."""
    return {"_id": file_id, "project": project, "state": "ready", "expires_by": {"$gt": int(time.time())}}


async def _visible(ctx: Context, envelope: Envelope) -> ObjectRecord:
    file_id = _file_id(envelope.body)
    record = await ctx.records.files.get(visible(envelope.project, file_id))
    if record is None:
        raise not_found(file_id)
    return record


# ---------------------------------------------------------------- staging


async def stage(ctx: Context, envelope: Envelope) -> StageTarget:
    request = _stage(envelope.body)
    if request.upload_id is not None:
        return await staging.stage_part(ctx, await uploads.pending(ctx, envelope.project, request.upload_id))
    if request.purpose is not None:
        validate.purpose(request.purpose)  # a bad purpose costs no bytes
    return await staging.stage_file(ctx, envelope.project)


async def stage_parts(ctx: Context, envelope: Envelope) -> StageParts:
    return await staging.part_urls(ctx, envelope.project, _stage_parts(envelope.body))


async def stage_abort(ctx: Context, envelope: Envelope) -> StageAbort:
    request = _stage_abort(envelope.body)
    await staging.abort(ctx, envelope.project, request)
    return request


# ---------------------------------------------------------------- the API


async def create(ctx: Context, envelope: Envelope) -> FileObject:
    commit = _commit(envelope.body)
    record = await staging.finish(ctx, envelope.project, commit.staged)
    async with staging.discarding(ctx, record):
        purpose = validate.purpose(commit.purpose, produced=commit.produced)
        validate.size(record.bytes, limit=ctx.settings.max_file_bytes)
        if purpose in validate.JSONL_PURPOSES:
            check = validate.JsonlCheck()
            await ctx.objects.scan(record.key, check.feed)
            check.finish()
        expires_at = validate.expires_at(purpose, record.created_at, commit.expires_after)
        ready = await ctx.records.files.update({"_id": record.id, "state": "staged"}, {
            "state": "ready", "bytes": record.bytes, "filename": commit.filename or "upload", "purpose": purpose,
            "expires_by": NEVER if expires_at is None else expires_at})
        if ready is None:  # swept as abandoned meanwhile (past `staging_timeout`)
            raise errors.server_error("The upload took too long and was discarded; please retry.")
    return file_object(ready)


async def list_files(ctx: Context, envelope: Envelope) -> FileList:
    query = _query(envelope.body)
    where = {"project": envelope.project, "state": "ready", "expires_by": {"$gt": int(time.time())}}
    if query.purpose:
        where["purpose"] = query.purpose
    descending = query.order == "desc"
    if query.after:
        anchor = await ctx.records.files.get(visible(envelope.project, query.after))
        if anchor is None:
            raise errors.ApiError(400, f"No such File object: {query.after}", param="after", code="invalid_value")
        where["seq"] = {"$lt" if descending else "$gt": anchor.seq}
    records = await ctx.records.files.find(where, sort=[("seq", -1 if descending else 1)], limit=query.limit + 1)
    data, has_more = page(records, query.limit, file_object, budget=ctx.page_budget)
    return FileList(data=data, first_id=data[0].id if data else None, last_id=data[-1].id if data else None,
                    has_more=has_more)


async def retrieve(ctx: Context, envelope: Envelope) -> FileObject:
    return file_object(await _visible(ctx, envelope))


async def delete(ctx: Context, envelope: Envelope) -> FileDeleted:
    file_id = _file_id(envelope.body)
    # Claimed first, so a crash between removing the bytes and the record leaves a `deleting`
    # record the sweep finishes, and no client sees the file meanwhile.
    record = await ctx.records.files.update(visible(envelope.project, file_id),
                                            {"state": "deleting", "claimed_at": int(time.time())})
    if record is None:
        raise not_found(file_id)
    await staging.remove(ctx, record)
    return FileDeleted(id=file_id, deleted=True)


async def content(ctx: Context, envelope: Envelope) -> Download:
    record = await _visible(ctx, envelope)
    return Download(url=ctx.objects.get_url(record.key, expires=DOWNLOAD_URL_SECONDS), bytes=record.bytes,
                    filename=record.filename)
