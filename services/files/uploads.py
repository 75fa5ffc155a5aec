"""`/v1/uploads`: create, add parts, complete (the parts, in the order given, become one file),
cancel. Parts are staged like files (see `staging.py`); completing joins them in the object store."""

import logging
import time

from services.files import staging, validate
from services.files.context import Context
from services.files.shapes import decoder, file_object, upload_object
from services.files.tables import NEVER, ObjectRecord, UploadRecord
from services.kit import objects
from services.kit.tables import new_id
from shared import errors
from shared.protocol.bus import Envelope
from shared.protocol.files import (
    ExpiresAfter,
    PartCommit,
    Upload,
    UploadCall,
    UploadCreateRequest,
    UploadPart,
)

log = logging.getLogger("files")

UPLOAD_SECONDS = 3600  # OpenAI: an Upload expires an hour after it is created
_create = decoder(UploadCreateRequest)
_part = decoder(PartCommit)
_call = decoder(UploadCall)


def not_found(upload_id: str) -> errors.ApiError:
    return errors.ApiError(404, f"No such Upload object: {upload_id}", param="upload_id", code="upload_not_found")


async def pending(ctx: Context, project: str, upload_id: str) -> UploadRecord:
    """The project's Upload `upload_id`, which must still take parts (or be completed)."""
    record = await ctx.records.uploads.get({"_id": upload_id, "project": project})
    if record is None:
        raise not_found(upload_id)
    status = "being completed" if record.status == "completing" else upload_object(record, now=int(time.time())).status
    if status != "pending":
        raise errors.invalid_request(f"Upload {upload_id} is {status}; only a pending Upload can change.",
                                     param="upload_id", code="upload_not_pending")
    return record


async def create(ctx: Context, envelope: Envelope) -> Upload:
    request = _create(envelope.body)
    purpose = validate.purpose(request.purpose)
    validate.size(request.bytes, limit=ctx.settings.max_upload_bytes, param="bytes")
    now = int(time.time())
    record = UploadRecord(id=new_id("upload_"), project=envelope.project, filename=request.filename, purpose=purpose,
                          bytes=request.bytes, mime_type=request.mime_type, created_at=now,
                          expires_at=now + UPLOAD_SECONDS, status="pending",
                          file_expires_after=request.expires_after.seconds if request.expires_after else 0)
    await ctx.records.uploads.insert(record)
    return upload_object(record, now=now)


async def add_part(ctx: Context, envelope: Envelope) -> UploadPart:
    commit = _part(envelope.body)
    record = await staging.finish(ctx, envelope.project, commit.staged)
    async with staging.discarding(ctx, record):
        if record.upload_id != commit.upload_id:
            raise errors.invalid_request("These bytes were staged for another Upload.", param="upload_id")
        await pending(ctx, envelope.project, commit.upload_id)
        validate.size(record.bytes, limit=staging.MAX_PART_DATA, param="data")
        ready = await ctx.records.parts.update({"_id": record.id, "state": "staged"},
                                               {"state": "ready", "bytes": record.bytes})
        if ready is None:
            raise errors.server_error("The part took too long and was discarded; please retry.")
    return UploadPart(id=ready.id, created_at=ready.created_at, upload_id=ready.upload_id)


async def complete(ctx: Context, envelope: Envelope) -> Upload:
    call = _call(envelope.body)
    if call.body is None:
        raise errors.invalid_request("Missing required parameter: 'part_ids'.", param="part_ids",
                                     code="missing_required_parameter")
    upload = await pending(ctx, envelope.project, call.upload_id)
    parts = await _ordered_parts(ctx, upload, call.body.part_ids)
    now_ns = time.time_ns()
    now = now_ns // 10**9
    file = staging.file_record(envelope.project, now_ns=now_ns, stage_for=ctx.settings.staging_timeout)
    # `completing` keeps a second complete, a cancel and new parts out while the bytes are joined.
    claimed = await ctx.records.uploads.update(
        {"_id": upload.id, "status": "pending", "expires_at": {"$gt": now}},
        {"status": "completing", "file_id": file.id, "claimed_at": now})
    if claimed is None:
        await pending(ctx, envelope.project, upload.id)  # says why
        raise errors.invalid_request(f"Upload {upload.id} changed meanwhile; retry.", param="upload_id")
    try:
        await ctx.records.files.insert(file)
        async with staging.discarding(ctx, file):
            ready = await _join(ctx, upload, file, parts, md5=call.body.md5)
    except BaseException:
        await _reopen(ctx, upload.id)
        raise
    done = await ctx.records.uploads.update({"_id": upload.id, "status": "completing"}, {"status": "completed"})
    await drop_parts(ctx, upload.id)
    return upload_object(done or claimed, now=now, file=file_object(ready))


async def cancel(ctx: Context, envelope: Envelope) -> Upload:
    call = _call(envelope.body)
    now = int(time.time())
    record = await ctx.records.uploads.update(
        {"_id": call.upload_id, "project": envelope.project, "status": "pending", "expires_at": {"$gt": now}},
        {"status": "cancelled"})
    if record is None:
        await pending(ctx, envelope.project, call.upload_id)  # says why
        raise errors.invalid_request(f"Upload {call.upload_id} changed meanwhile; retry.", param="upload_id")
    await drop_parts(ctx, record.id)
    return upload_object(record, now=now)


async def _ordered_parts(ctx: Context, upload: UploadRecord, part_ids: list[str]) -> list[ObjectRecord]:
    if not part_ids:
        raise errors.invalid_request("'part_ids' must name at least one part.", param="part_ids", code="invalid_value")
    if len(set(part_ids)) != len(part_ids):
        raise errors.invalid_request("'part_ids' names a part more than once.", param="part_ids", code="invalid_value")
    found = {part.id: part for part in await ctx.records.parts.find(
        {"_id": {"$in": part_ids}, "upload_id": upload.id, "state": "ready"})}
    if unknown := [part_id for part_id in part_ids if part_id not in found]:
        raise errors.invalid_request(f"No such part in Upload {upload.id}: {unknown[0]}", param="part_ids",
                                     code="invalid_value")
    parts = [found[part_id] for part_id in part_ids]
    total = sum(part.bytes for part in parts)
    if total != upload.bytes:
        raise errors.invalid_request(f"The parts hold {total} bytes, but the Upload was created for {upload.bytes}.",
                                     param="part_ids", code="bytes_mismatch")
    return parts


async def _join(ctx: Context, upload: UploadRecord, file: ObjectRecord, parts: list[ObjectRecord], *,
                md5: str | None) -> ObjectRecord:
    """Write the parts, in order, as the file's object; check it; make the file ready."""
    inspectors, digest = [], None
    check = validate.JsonlCheck(param="part_ids") if upload.purpose in validate.JSONL_PURPOSES else None
    if check is not None:
        inspectors.append(check.feed)
    if md5:
        update, digest = objects.md5_hex()
        inspectors.append(update)

    def inspect(chunk: bytes) -> None:
        for feed in inspectors:
            feed(chunk)

    await ctx.objects.concatenate([(part.key, part.bytes) for part in parts], file.key,
                                  inspect=inspect if inspectors else None)
    if check is not None:
        check.finish()
    if digest is not None and digest() != md5.lower():
        raise errors.invalid_request(f"The md5 checksum {md5} does not match the uploaded bytes ({digest()}).",
                                     param="md5", code="md5_mismatch")
    if await ctx.objects.size(file.key) != upload.bytes:
        raise errors.server_error("The parts could not be joined; please retry.")
    after = ExpiresAfter(anchor="created_at", seconds=upload.file_expires_after) if upload.file_expires_after else None
    expires_at = validate.expires_at(upload.purpose, file.created_at, after)
    ready = await ctx.records.files.update({"_id": file.id, "state": "staged"}, {
        "state": "ready", "bytes": upload.bytes, "filename": upload.filename, "purpose": upload.purpose,
        "expires_by": NEVER if expires_at is None else expires_at})
    if ready is None:
        raise errors.server_error("The upload took too long and was discarded; please retry.")
    return ready


async def _reopen(ctx: Context, upload_id: str) -> None:
    """A completion that failed leaves the Upload pending, so the client can fix it and retry."""
    try:
        await ctx.records.uploads.update({"_id": upload_id, "status": "completing"},
                                         {"status": "pending", "file_id": "", "claimed_at": 0})
    except Exception:  # the database is down: the sweep reopens it later
        log.warning("could not reopen upload %s now; the sweep will", upload_id, exc_info=True)


async def drop_parts(ctx: Context, upload_id: str) -> None:
    """Remove an Upload's finished parts. Staged ones are left to their own commit (which fails,
    the Upload being no longer pending) or to the sweep, which waits until their URLs expire."""
    now = int(time.time())
    while part := await ctx.records.parts.update({"upload_id": upload_id, "state": "ready"},
                                                 {"state": "deleting", "claimed_at": now}):
        await staging.remove(ctx, part)
