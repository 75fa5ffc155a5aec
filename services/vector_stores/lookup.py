"""A project's stores, files and batches looked up (another project's are a 404), and records
turned into OpenAI's objects."""

import time

from services.kit.tables import Table, page
from services.vector_stores.context import Context
from services.vector_stores.tables import BatchRecord, FileRecord, StoreRecord
from shared import errors
from shared.protocol.vector_stores import (
    FileCounts,
    StaticChunking,
    StaticChunkingParam,
    VectorStoreFileBatchObject,
    VectorStoreFileObject,
    VectorStoreObject,
)


def not_found(what: str, ident: str, param: str) -> errors.ApiError:
    return errors.ApiError(404, f"No {what} found with id '{ident}'.", param=param, code="not_found")


async def own_store(ctx: Context, store_id: str, project: str) -> StoreRecord:
    record = await ctx.tables.stores.get({"_id": store_id, "project": project})
    if record is None:
        raise not_found("vector store", store_id, "vector_store_id")
    return record


async def live_store(ctx: Context, store_id: str, project: str) -> StoreRecord:
    """The store, if it may take new files: an expired store has lost its vectors."""
    record = await own_store(ctx, store_id, project)
    if record.expired:
        raise errors.invalid_request(f"Vector store {store_id} has expired.", param="vector_store_id")
    return record


async def own_file(ctx: Context, store_id: str, file_id: str, project: str) -> FileRecord:
    await own_store(ctx, store_id, project)
    record = await ctx.tables.files.get({"_id": f"{store_id}/{file_id}"})
    if record is None:
        raise not_found("file", file_id, "file_id")
    return record


async def own_batch(ctx: Context, store_id: str, batch_id: str, project: str) -> BatchRecord:
    await own_store(ctx, store_id, project)
    record = await ctx.tables.batches.get({"_id": batch_id, "vector_store_id": store_id})
    if record is None:
        raise not_found("file batch", batch_id, "batch_id")
    return record


async def counts(ctx: Context, where: dict) -> tuple[FileCounts, int]:
    """The files matching `where` by status, and their bytes in the index."""
    found = FileCounts()
    usage = 0
    async for doc in ctx.tables.files.collection.find(where, {"status": 1, "usage_bytes": 1}):
        status = doc.get("status", "in_progress")
        setattr(found, status, getattr(found, status) + 1)
        found.total += 1
        usage += int(doc.get("usage_bytes") or 0)
    return found, usage


def expires_at(ctx: Context, record: StoreRecord, active_at: int) -> int:
    """When a store last active at `active_at` expires (0: never)."""
    if record.expires_after is None:
        return 0
    return active_at + int(record.expires_after.days * ctx.settings.expiry_day)


async def touch(ctx: Context, record: StoreRecord) -> StoreRecord:
    """The store was used now: its `last_active_at`, and so its expiry, move."""
    now = int(time.time())
    return await ctx.tables.stores.update({"_id": record.id}, {"last_active_at": now,
                                                               "expires_at": expires_at(ctx, record, now)}) or record


async def store_object(ctx: Context, record: StoreRecord) -> VectorStoreObject:
    file_counts, usage = await counts(ctx, {"vector_store_id": record.id})
    status = "expired" if record.expired else "in_progress" if file_counts.in_progress else "completed"
    expiry = expires_at(ctx, record, record.last_active_at)
    return VectorStoreObject(id=record.id, created_at=record.created_at, name=record.name, usage_bytes=usage,
                             file_counts=file_counts, status=status, last_active_at=record.last_active_at,
                             metadata=record.metadata, expires_after=record.expires_after,
                             expires_at=expiry or None)


def file_object(record: FileRecord) -> VectorStoreFileObject:
    return VectorStoreFileObject(
        id=record.file_id, usage_bytes=record.usage_bytes, created_at=record.created_at,
        vector_store_id=record.vector_store_id, status=record.status, last_error=record.last_error,
        chunking_strategy=StaticChunkingParam(static=StaticChunking(max_chunk_size_tokens=record.chunk_size,
                                                                    chunk_overlap_tokens=record.chunk_overlap)),
        attributes=record.attributes)


async def batch_object(ctx: Context, record: BatchRecord) -> VectorStoreFileBatchObject:
    file_counts, _ = await counts(ctx, {"batch_id": record.id})
    if record.status == "cancelled":
        status = "cancelled"
    elif file_counts.in_progress:
        status = "in_progress"
    elif file_counts.total and file_counts.failed == file_counts.total:
        status = "failed"
    else:
        status = "completed"
    return VectorStoreFileBatchObject(id=record.id, created_at=record.created_at,
                                      vector_store_id=record.vector_store_id, status=status, file_counts=file_counts)


async def listed(ctx: Context, table: Table, where: dict, *, anchor: dict | None, limit: int, order: str,
                 backwards: bool = False) -> tuple[list, bool]:
    """A page of `table`'s records matching `where`, in `order` of `seq`: after the record `anchor`
    finds (before it when `backwards`), `limit` of them; and whether there are more."""
    ascending = (order == "asc") != backwards
    if anchor is not None:
        record = await table.get(anchor)
        if record is None:
            raise errors.invalid_request("The cursor names no object of this list.", param="before" if backwards
                                         else "after", code="invalid_value")
        where = {**where, "seq": {"$gt" if ascending else "$lt": record.seq}}
    records = await table.find(where, sort=[("seq", 1 if ascending else -1)], limit=limit + 1)
    has_more = len(records) > limit
    records = records[:limit]
    return (records[::-1] if backwards else records), has_more


def paged(objects: list, has_more: bool, budget: int) -> tuple[list, bool]:
    data, more = page(objects, len(objects), lambda item: item, budget=budget)
    return data, has_more or more
