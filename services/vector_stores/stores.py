"""`/v1/vector_stores`: create (with files), retrieve, update, list, delete."""

import time

import msgspec
from msgspec import UNSET

from services.kit import service as bus_service
from services.kit.tables import new_id, sequence
from services.vector_stores import lookup, store_files
from services.vector_stores.context import Context
from services.vector_stores.tables import StoreRecord
from shared.protocol.bus import Envelope
from shared.protocol.vector_stores import (FileCreateRequest, VectorStoreCreateRequest, VectorStoreDeleted,
    VectorStoreList, VectorStoreListQuery, VectorStoreObject, VectorStoreUpdate)

_create = msgspec.json.Decoder(VectorStoreCreateRequest)
_update = msgspec.json.Decoder(VectorStoreUpdate)
_query = msgspec.json.Decoder(VectorStoreListQuery)
_id = msgspec.json.Decoder(str)


async def create(ctx: Context, envelope: Envelope) -> VectorStoreObject:
    request = bus_service.decode(_create, envelope.body)
    strategy = store_files.strategy(request.chunking_strategy)
    file_ids = list(dict.fromkeys(request.file_ids or []))
    named = [await store_files.source(ctx, file_id, envelope, param="file_ids") for file_id in file_ids]
    now_ns = time.time_ns()
    store_id = new_id("vs_")
    record = StoreRecord(id=store_id, project=envelope.project, created_at=now_ns // 10**9,
                         seq=sequence(now_ns, store_id), name=request.name or "", metadata=request.metadata or {},
                         expires_after=request.expires_after, last_active_at=now_ns // 10**9)
    await ctx.tables.stores.insert(record)
    record = await lookup.touch(ctx, record)
    for file in named:
        await store_files.attach(ctx, record, FileCreateRequest(file_id=file.id), file.filename, strategy,
                                 request_id=envelope.request_id)
    return await lookup.store_object(ctx, record)


async def retrieve(ctx: Context, envelope: Envelope) -> VectorStoreObject:
    store_id = bus_service.decode(_id, envelope.body)
    return await lookup.store_object(ctx, await lookup.own_store(ctx, store_id, envelope.project))


async def update(ctx: Context, envelope: Envelope) -> VectorStoreObject:
    request = bus_service.decode(_update, envelope.body)
    record = await lookup.own_store(ctx, request.vector_store_id, envelope.project)
    change, values = request.change, {}
    if change.name is not UNSET:
        values["name"] = change.name or ""
    if change.metadata is not UNSET:
        values["metadata"] = change.metadata or {}
    if change.expires_after is not UNSET:
        values["expires_after"] = msgspec.to_builtins(change.expires_after)
    if values:
        record = await ctx.tables.stores.update({"_id": record.id}, values) or record
    return await lookup.store_object(ctx, await lookup.touch(ctx, record))


async def list_stores(ctx: Context, envelope: Envelope) -> VectorStoreList:
    query = bus_service.decode(_query, envelope.body)
    cursor = query.before or query.after
    found, has_more = await lookup.listed(
        ctx, ctx.tables.stores, {"project": envelope.project}, limit=query.limit, order=query.order,
        anchor={"_id": cursor, "project": envelope.project} if cursor else None, backwards=bool(query.before))
    data, has_more = lookup.paged([await lookup.store_object(ctx, r) for r in found], has_more, ctx.page_budget)
    return VectorStoreList(data=data, first_id=data[0].id if data else None, last_id=data[-1].id if data else None,
                           has_more=has_more)


async def delete(ctx: Context, envelope: Envelope) -> VectorStoreDeleted:
    store_id = bus_service.decode(_id, envelope.body)
    record = await lookup.own_store(ctx, store_id, envelope.project)
    await ctx.tables.stores.delete({"_id": record.id})
    # Files being ingested find their record gone and remove what they wrote (see ingestion.py).
    await ctx.tables.files.delete({"vector_store_id": record.id})
    await ctx.tables.batches.delete({"vector_store_id": record.id})
    await ctx.index.delete(record.id)
    return VectorStoreDeleted(id=record.id)
