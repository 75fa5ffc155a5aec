"""The sweep: expired files and uploads, abandoned stages, deletes and completions a crash cut short.

Every replica sweeps; each record is claimed with `find_one_and_update` before it is touched, so
two sweeps never work on the same one. Objects go before their records (see `staging.remove`).
"""

import datetime
import logging
import time
from dataclasses import dataclass

from services.files import staging, uploads
from services.files.context import Context
from services.files.tables import ObjectRecord
from services.kit.tables import Table

log = logging.getLogger("files")

# A delete claimed this long ago and not finished was cut short by a crash: finish it.
STALE_DELETE_SECONDS = 300
# Upload records are kept this long after they stop mattering, so a late client still gets its
# Upload's status, not a 404.
UPLOAD_RECORD_SECONDS = 7 * 24 * 3600


@dataclass
class Swept:
    removed: int = 0  # objects with their records
    uploads_expired: int = 0
    completions_recovered: int = 0
    multiparts_aborted: int = 0

    def __bool__(self) -> bool:  # something was swept
        return self != Swept()


async def sweep(ctx: Context, *, now: int | None = None) -> Swept:
    now = int(time.time()) if now is None else now
    swept = Swept()
    for table in (ctx.records.files, ctx.records.parts):
        for query in ({"state": "staged", "stage_until": {"$lt": now}},
                      {"state": "ready", "expires_by": {"$lt": now}},
                      {"state": "deleting", "claimed_at": {"$lt": now - STALE_DELETE_SECONDS}}):
            swept.removed += await _remove_all(ctx, table, query, now=now)
    await _recover_completions(ctx, now=now, swept=swept)
    while await ctx.records.uploads.update({"status": "pending", "expires_at": {"$lte": now}}, {"status": "expired"}):
        swept.uploads_expired += 1
    await ctx.records.uploads.delete({"status": {"$in": ["completed", "cancelled", "expired"]},
                                      "expires_at": {"$lt": now - UPLOAD_RECORD_SECONDS}})
    # A crash between starting a multipart upload and recording it leaves one nothing points at.
    older = datetime.datetime.fromtimestamp(now - ctx.settings.staging_timeout - 3600, datetime.UTC)
    for key, multipart in await ctx.objects.stale_multiparts(older):
        await ctx.objects.abort_multipart(key, multipart)
        swept.multiparts_aborted += 1
    return swept


async def _remove_all(ctx: Context, table: Table[ObjectRecord], query: dict, *, now: int) -> int:
    count = 0
    while record := await table.update(query, {"state": "deleting", "claimed_at": now}):
        await staging.remove(ctx, record)
        count += 1
    return count


async def _recover_completions(ctx: Context, *, now: int, swept: Swept) -> None:
    """An Upload left `completing` by a crash: completed if its file got ready, else pending again
    (its half-made file is a stage the sweep removes)."""
    stale = now - int(ctx.settings.staging_timeout)
    while upload := await ctx.records.uploads.update({"status": "completing", "claimed_at": {"$lt": stale}},
                                                     {"claimed_at": now}):
        file = await ctx.records.files.get({"_id": upload.file_id, "state": "ready"})
        if file is not None:
            await ctx.records.uploads.update({"_id": upload.id}, {"status": "completed"})
            await uploads.drop_parts(ctx, upload.id)
        else:
            await ctx.records.uploads.update({"_id": upload.id}, {"status": "pending", "file_id": "", "claimed_at": 0})
        swept.completions_recovered += 1
