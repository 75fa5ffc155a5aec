"""`/v1/vector_stores/{id}/files`: add a file (it is ingested in the background, see ingestion.py),
retrieve, update its attributes, list (by status), remove; and its parsed text, as chunks."""

import time

import msgspec

from services.kit import service as bus_service
from services.kit.tables import sequence
from services.vector_stores import chunking, ingestion, lookup
from services.vector_stores.context import Context
from services.vector_stores.tables import FileRecord, StoreRecord
from shared import errors
from shared.protocol.bus import Envelope
from shared.protocol.files import FileObject
from shared.protocol.vector_stores import (AutoChunkingParam, ChunkingParam, ContentPart, FileAttributesUpdate,
    FileCreate, FileCreateRequest, FileListQuery, FileRef, VectorStoreFileContent, VectorStoreFileDeleted,
    VectorStoreFileList, VectorStoreFileObject)

_create = msgspec.json.Decoder(FileCreate)
_ref = msgspec.json.Decoder(FileRef)
_attributes = msgspec.json.Decoder(FileAttributesUpdate)
_query = msgspec.json.Decoder(FileListQuery)


def strategy(param: ChunkingParam | None, *, name: str = "chunking_strategy") -> chunking.Static:
    """The static chunking a request asks for: `auto` (or none) is OpenAI's 800/400."""
    if param is None or isinstance(param, AutoChunkingParam):
        return chunking.Static()
    size, overlap = param.static.max_chunk_size_tokens, param.static.chunk_overlap_tokens
    if (why := chunking.check(size, overlap)) is not None:
        raise errors.invalid_request(why, param=name, code="invalid_value")
    return chunking.Static(size, overlap)


async def source(ctx: Context, file_id: str, envelope: Envelope, *, param: str = "file_id") -> FileObject:
    """The file `file_id`, if the caller's project has it (the files service answers 404 otherwise)."""
    try:
        return await ctx.files.retrieve(file_id, project=envelope.project, request_id=envelope.request_id)
    except errors.ApiError as err:
        if err.status == 404:
            raise errors.invalid_request(f"No file found with id '{file_id}'.", param=param,
                                         code="file_not_found") from None
        raise


async def attach(ctx: Context, store: StoreRecord, request: FileCreateRequest, filename: str,
                 chunks: chunking.Static, *, batch_id: str = "", request_id: str) -> FileRecord:
    """Add a file to `store` (again, if it was there: its ingestion starts over) and queue its ingestion."""
    now_ns = time.time_ns()
    record = FileRecord(id=f"{store.id}/{request.file_id}", vector_store_id=store.id, file_id=request.file_id,
                        project=store.project, created_at=now_ns // 10**9, seq=sequence(now_ns, request.file_id),
                        chunk_size=chunks.max_chunk_size_tokens, chunk_overlap=chunks.chunk_overlap_tokens,
                        attributes=request.attributes, filename=filename, batch_id=batch_id)
    if await ctx.tables.files.delete({"_id": record.id}):
        await ctx.index.delete(store.id, file_id=request.file_id)
    await ctx.tables.files.insert(record)
    await ingestion.queue(ctx, record)
    return record


async def create(ctx: Context, envelope: Envelope) -> VectorStoreFileObject:
    request = bus_service.decode(_create, envelope.body)
    store = await lookup.live_store(ctx, request.vector_store_id, envelope.project)
    chunks = strategy(request.file.chunking_strategy)
    file = await source(ctx, request.file.file_id, envelope)
    store = await lookup.touch(ctx, store)
    return lookup.file_object(await attach(ctx, store, request.file, file.filename, chunks,
                                            request_id=envelope.request_id))


async def retrieve(ctx: Context, envelope: Envelope) -> VectorStoreFileObject:
    ref = bus_service.decode(_ref, envelope.body)
    return lookup.file_object(await lookup.own_file(ctx, ref.vector_store_id, ref.file_id, envelope.project))


async def update(ctx: Context, envelope: Envelope) -> VectorStoreFileObject:
    change = bus_service.decode(_attributes, envelope.body)
    record = await lookup.own_file(ctx, change.vector_store_id, change.file_id, envelope.project)
    updated = await ctx.tables.files.update({"_id": record.id}, {"attributes": change.attributes})
    if updated is None:
        raise lookup.not_found("file", change.file_id, "file_id")
    return lookup.file_object(updated)


async def list_files(ctx: Context, envelope: Envelope) -> VectorStoreFileList:
    query = bus_service.decode(_query, envelope.body)
    if query.batch_id:
        await lookup.own_batch(ctx, query.vector_store_id, query.batch_id, envelope.project)
    else:
        await lookup.own_store(ctx, query.vector_store_id, envelope.project)
    where: dict = {"vector_store_id": query.vector_store_id}
    if query.batch_id:
        where["batch_id"] = query.batch_id
    if query.filter:
        where["status"] = query.filter
    cursor = query.before or query.after
    found, has_more = await lookup.listed(
        ctx, ctx.tables.files, where, limit=query.limit, order=query.order, backwards=bool(query.before),
        anchor={"_id": f"{query.vector_store_id}/{cursor}"} if cursor else None)
    data, has_more = lookup.paged([lookup.file_object(r) for r in found], has_more, ctx.page_budget)
    return VectorStoreFileList(data=data, first_id=data[0].id if data else None,
                               last_id=data[-1].id if data else None, has_more=has_more)


async def delete(ctx: Context, envelope: Envelope) -> VectorStoreFileDeleted:
    ref = bus_service.decode(_ref, envelope.body)
    record = await lookup.own_file(ctx, ref.vector_store_id, ref.file_id, envelope.project)
    await ctx.tables.files.delete({"_id": record.id})
    await ctx.index.delete(record.vector_store_id, file_id=record.file_id)
    return VectorStoreFileDeleted(id=record.file_id)


async def content(ctx: Context, envelope: Envelope) -> VectorStoreFileContent:
    ref = bus_service.decode(_ref, envelope.body)
    record = await lookup.own_file(ctx, ref.vector_store_id, ref.file_id, envelope.project)
    chunks = await ctx.index.chunks(record.vector_store_id, file_ids=[record.file_id])
    data, more = lookup.paged([ContentPart(text=hit.text) for hit in chunks], False, ctx.page_budget)
    return VectorStoreFileContent(data=data, has_more=more)
