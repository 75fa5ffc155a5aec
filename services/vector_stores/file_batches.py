"""`/v1/vector_stores/{id}/file_batches`: add many files at once, retrieve, cancel, list its files."""

import time

import msgspec

from services.kit import service as bus_service
from services.kit.tables import new_id
from services.vector_stores import lookup, store_files
from services.vector_stores.context import Context
from services.vector_stores.tables import BatchRecord
from shared import errors
from shared.protocol.bus import Envelope
from shared.protocol.vector_stores import BatchCreate, BatchRef, FileCreateRequest, VectorStoreFileBatchObject

_create = msgspec.json.Decoder(BatchCreate)
_ref = msgspec.json.Decoder(BatchRef)


async def create(ctx: Context, envelope: Envelope) -> VectorStoreFileBatchObject:
    request = bus_service.decode(_create, envelope.body)
    batch = request.batch
    if (batch.file_ids is None) == (batch.files is None):
        raise errors.invalid_request("Give either `file_ids` or `files`, not both.", param="file_ids")
    store = await lookup.live_store(ctx, request.vector_store_id, envelope.project)
    wanted = batch.files or [FileCreateRequest(file_id=file_id, chunking_strategy=batch.chunking_strategy,
                                               attributes=batch.attributes) for file_id in batch.file_ids]
    # Checked before anything is added: a batch with a bad strategy or an unknown file adds nothing.
    planned = []
    for n, item in enumerate(wanted):
        chunks = store_files.strategy(item.chunking_strategy)
        planned.append((item, chunks, await store_files.source(ctx, item.file_id, envelope,
                                                               param=f"files[{n}].file_id" if batch.files else
                                                               "file_ids")))
    record = BatchRecord(id=new_id("vsfb_"), vector_store_id=store.id, project=envelope.project,
                         created_at=int(time.time()))
    await ctx.tables.batches.insert(record)
    store = await lookup.touch(ctx, store)
    for item, chunks, file in planned:
        await store_files.attach(ctx, store, item, file.filename, chunks, batch_id=record.id,
                                 request_id=envelope.request_id)
    return await lookup.batch_object(ctx, record)


async def retrieve(ctx: Context, envelope: Envelope) -> VectorStoreFileBatchObject:
    ref = bus_service.decode(_ref, envelope.body)
    return await lookup.batch_object(ctx, await lookup.own_batch(ctx, ref.vector_store_id, ref.batch_id,
                                                                   envelope.project))


async def cancel(ctx: Context, envelope: Envelope) -> VectorStoreFileBatchObject:
    """Files not yet ingested end `cancelled` (ingestion skips them, or drops what it wrote)."""
    ref = bus_service.decode(_ref, envelope.body)
    record = await lookup.own_batch(ctx, ref.vector_store_id, ref.batch_id, envelope.project)
    if (await lookup.batch_object(ctx, record)).status != "in_progress":  # it has ended: nothing to cancel
        return await lookup.batch_object(ctx, record)
    record = await ctx.tables.batches.update({"_id": record.id}, {"status": "cancelled"}) or record
    await ctx.tables.files.collection.update_many({"batch_id": record.id, "status": "in_progress"},
                                                  {"$set": {"status": "cancelled"}})
    return await lookup.batch_object(ctx, record)
