"""`/v1/batches`: create, list, retrieve, cancel; and `start`, which runs the batches' work
(batch_work.py) and the expiry sweep in this replica."""

import logging
import time

import msgspec

from services.jobs import tasks
from services.jobs.batches.tables import BATCHES, CHUNKS, RUNNING, BatchRecord, BatchTables, ChunkRecord, batch_object
from services.jobs.batches.work import KIND, BatchWork, queue
from services.jobs.context import Context
from services.kit.service import decode
from services.kit.sweeper import Sweeper
from services.kit.tables import new_id, page, sequence
from shared import errors, subjects
from shared.protocol.batches import Batch, BatchCreateRequest, BatchList, BatchListQuery
from shared.protocol.bus import Envelope

log = logging.getLogger("jobs")

_create = msgspec.json.Decoder(BatchCreateRequest)
_query = msgspec.json.Decoder(BatchListQuery)
_batch_id = msgspec.json.Decoder(str)
WINDOW_HOURS = {"24h": 24}
MAX_METADATA_KEYS, MAX_KEY, MAX_VALUE = 16, 64, 512


def _tables(ctx: Context) -> BatchTables:
    return BatchTables(ctx.store.table(BATCHES, BatchRecord), ctx.store.table(CHUNKS, ChunkRecord))


def not_found(batch_id: str) -> errors.ApiError:
    return errors.ApiError(404, f"No batch found with id '{batch_id}'.", param="batch_id", code="batch_not_found")


def _metadata(value: dict[str, str] | None) -> dict[str, str] | None:
    if value is None:
        return None
    if len(value) > MAX_METADATA_KEYS:
        raise errors.invalid_request(f"Invalid 'metadata': at most {MAX_METADATA_KEYS} keys are allowed.",
                                     param="metadata", code="invalid_value")
    for key, item in value.items():
        if len(key) > MAX_KEY or len(item) > MAX_VALUE:
            raise errors.invalid_request(f"Invalid 'metadata': keys are at most {MAX_KEY} characters and values "
                                         f"at most {MAX_VALUE}.", param="metadata", code="invalid_value")
    return value


async def create(ctx: Context, envelope: Envelope) -> Batch:
    request = decode(_create, envelope.body)
    metadata = _metadata(request.metadata)
    try:
        source = await ctx.files.retrieve(request.input_file_id, project=envelope.project,
                                          request_id=envelope.request_id)
    except errors.ApiError as err:
        if err.status != 404:
            raise
        raise errors.invalid_request(f"Invalid 'input_file_id': no such File object: {request.input_file_id}.",
                                     param="input_file_id", code="invalid_value") from None
    if source.purpose != "batch":
        raise errors.invalid_request(f"The input file must be uploaded with purpose 'batch', not "
                                     f"'{source.purpose}'.", param="input_file_id", code="invalid_value")
    now_ns = time.time_ns()
    batch_id = new_id("batch_")
    created = now_ns // 10**9
    hours = WINDOW_HOURS[request.completion_window]
    record = BatchRecord(id=batch_id, project=envelope.project, seq=sequence(now_ns, batch_id),
                         endpoint=request.endpoint, input_file_id=request.input_file_id,
                         completion_window=request.completion_window, status="validating", created_at=created,
                         expires_at=created + int(hours * ctx.settings.batch_window_unit), metadata=metadata,
                         output_expires_after=request.output_expires_after)
    await _tables(ctx).batches.insert(record)
    await queue(ctx, "validate", batch_id)
    return batch_object(record)


async def _own(ctx: Context, envelope: Envelope) -> BatchRecord:
    batch_id = decode(_batch_id, envelope.body)
    record = await _tables(ctx).batches.get({"_id": batch_id, "project": envelope.project})
    if record is None:
        raise not_found(batch_id)
    return record


async def retrieve(ctx: Context, envelope: Envelope) -> Batch:
    return batch_object(await _own(ctx, envelope))


async def cancel(ctx: Context, envelope: Envelope) -> Batch:
    record = await _own(ctx, envelope)
    if record.status in ("cancelling", "cancelled"):
        return batch_object(record)
    stopped = await _tables(ctx).batches.update(
        {"_id": record.id, "project": envelope.project, "status": {"$in": list(RUNNING)}, "stop": ""},
        {"status": "cancelling", "cancelling_at": int(time.time()), "stop": "cancel"})
    if stopped is None:
        record = await _own(ctx, envelope)
        if record.status in ("cancelling", "cancelled") or record.stop:  # stopping anyway (expired)
            return batch_object(record)
        raise errors.ApiError(409, f"Cannot cancel a batch with status '{record.status}'.", param="batch_id",
                              code="batch_not_cancellable")
    await queue(ctx, "finalize", stopped.id)
    return batch_object(stopped)


async def list_batches(ctx: Context, envelope: Envelope) -> BatchList:
    query = decode(_query, envelope.body)
    table = _tables(ctx).batches
    where: dict = {"project": envelope.project}
    if query.after:
        anchor = await table.get({"_id": query.after, "project": envelope.project})
        if anchor is None:
            raise errors.invalid_request(f"No such batch: {query.after}", param="after", code="invalid_value")
        where["seq"] = {"$lt": anchor.seq}
    records = await table.find(where, sort=[("seq", -1)], limit=query.limit + 1)
    data, has_more = page(records, query.limit, batch_object, budget=ctx.page_budget)
    return BatchList(data=data, first_id=data[0].id if data else None, last_id=data[-1].id if data else None,
                     has_more=has_more)


# name, subject, the API path it serves (the metrics' `route`), handler
ROUTES = (
    ("batches_create", subjects.BATCHES_CREATE, "/v1/batches", create),
    ("batches_list", subjects.BATCHES_LIST, "/v1/batches", list_batches),
    ("batches_retrieve", subjects.BATCHES_RETRIEVE, "/v1/batches/{batch_id}", retrieve),
    ("batches_cancel", subjects.BATCHES_CANCEL, "/v1/batches/{batch_id}/cancel", cancel),
)


async def start(ctx: Context) -> list:
    tables = _tables(ctx)
    await tables.ensure_indexes()
    work = BatchWork(ctx, tables)
    worker = tasks.Worker(ctx.js, KIND, work.handle, concurrency=ctx.settings.batch_workers,
                          ack_wait=ctx.settings.ack_wait)
    await worker.start()
    return [worker, Sweeper("jobs", work.sweep, ctx.settings.sweep_interval).start()]
