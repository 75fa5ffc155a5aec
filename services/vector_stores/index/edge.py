"""The embedded backend: qdrant-edge-py, Qdrant's engine in this process with a write-ahead log
(a kill -9 loses no acknowledged write). One shard holds every store, partitioned by the
`vector_store_id` payload (indexed): a shard per store would cost 8 search threads and memory each.

The engine holds the GIL through most of a query (and for minutes through an index build), so
every call runs on one worker thread of its own, never on the event loop; one thread also keeps
calls in order. Only one process may open the shard (its WAL is locked): more replicas need the
server backend."""

import asyncio
import os
from collections.abc import Collection, Sequence
from concurrent.futures import ThreadPoolExecutor

from qdrant_edge import (
    CountRequest,
    Distance,
    EdgeConfig,
    EdgeShard,
    EdgeSparseVectorParams,
    EdgeVectorParams,
    FieldCondition,
    Filter,
    MatchAny,
    MatchValue,
    Modifier,
    PayloadSchemaType,
    Point,
    Query,
    QueryRequest,
    ScrollRequest,
    SparseVector,
    UpdateOperation,
)

from services.vector_stores.index.base import CHUNK, FILE, PART, STORE, TEXT, VERSION, Hit, IndexPoint, hits
from services.vector_stores.ranking import keyword_vector, query_vector

VECTOR, KEYWORDS = "text", "keywords"
SCROLL_PAGE = 1024


class EdgeIndex:
    def __init__(self, path: str, *, dimensions: int) -> None:
        self._path, self._dimensions = path, dimensions
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="qdrant-edge")
        self._shard: EdgeShard | None = None

    async def _run(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)

    async def start(self) -> None:
        self._shard = await self._run(self._open)

    def _open(self) -> EdgeShard:
        if os.path.exists(os.path.join(self._path, "edge_config.json")):
            return EdgeShard.load(self._path)
        os.makedirs(self._path, exist_ok=True)
        config = EdgeConfig(vectors={VECTOR: EdgeVectorParams(size=self._dimensions, distance=Distance.Cosine)},
                            sparse_vectors={KEYWORDS: EdgeSparseVectorParams(modifier=Modifier.Idf)},
                            max_search_threads=1)
        shard = EdgeShard.create(self._path, config)
        for key in (STORE, FILE, VERSION):
            shard.update(UpdateOperation.create_field_index(key, PayloadSchemaType.Keyword))
        return shard

    @staticmethod
    def _filter(store_id: str, *, file_ids: Collection[str] | None = None, part: int | None = None,
                version: str | None = None) -> Filter:
        must = [FieldCondition(key=STORE, match=MatchValue(store_id))]
        if file_ids is not None:
            must.append(FieldCondition(key=FILE, match=MatchAny(list(file_ids))))
        if part is not None:
            must.append(FieldCondition(key=PART, match=MatchValue(part)))
        if version is not None:
            must.append(FieldCondition(key=VERSION, match=MatchValue(version)))
        return Filter(must=must)

    async def upsert(self, points: Sequence[IndexPoint]) -> None:
        if points:
            operation = UpdateOperation.upsert_points([Point(id=p.id, vector=self._vectors(p), payload=p.payload())
                                                       for p in points])
            await self._run(self._shard.update, operation)

    @staticmethod
    def _vectors(point: IndexPoint) -> dict:
        if point.part:
            return {VECTOR: point.vector}
        return {VECTOR: point.vector, KEYWORDS: SparseVector(*keyword_vector(point.text))}

    async def keyword_search(self, store_id: str, query: str, *, limit: int,
                             file_ids: Collection[str] | None = None) -> list[Hit]:
        indices, values = query_vector(query)
        if not indices or (file_ids is not None and not file_ids):
            return []
        request = QueryRequest(limit=limit, query=Query.Nearest(SparseVector(indices, values), using=KEYWORDS),
                               filter=self._filter(store_id, file_ids=file_ids), with_payload=True)
        found = await self._run(self._shard.query, request)
        return hits(((point.payload, point.score) for point in found), limit)

    async def search(self, store_id: str, vector: list[float], *, limit: int,
                     file_ids: Collection[str] | None = None) -> list[Hit]:
        if file_ids is not None and not file_ids:
            return []
        request = QueryRequest(limit=limit * 4, query=Query.Nearest(vector, using=VECTOR),
                               filter=self._filter(store_id, file_ids=file_ids), with_payload=True)
        found = await self._run(self._shard.query, request)
        return hits(((point.payload, point.score) for point in found), limit)

    async def chunks(self, store_id: str, *, file_ids: Collection[str] | None = None) -> list[Hit]:
        if file_ids is not None and not file_ids:
            return []
        return await self._run(self._scroll_all, self._filter(store_id, file_ids=file_ids, part=0))

    def _scroll_all(self, flt: Filter) -> list[Hit]:
        found, offset = [], None
        while True:
            records, offset = self._shard.scroll(ScrollRequest(offset=offset, limit=SCROLL_PAGE, filter=flt,
                                                               with_payload=True))
            found += [Hit(file_id=r.payload[FILE], chunk_index=int(r.payload[CHUNK]), text=r.payload[TEXT])
                      for r in records]
            if offset is None:
                return sorted(found, key=lambda hit: (hit.file_id, hit.chunk_index))

    async def delete(self, store_id: str, *, file_id: str | None = None, version: str | None = None) -> None:
        flt = self._filter(store_id, file_ids=None if file_id is None else [file_id], version=version)
        await self._run(self._shard.update, UpdateOperation.delete_points_by_filter(flt))

    async def count(self, store_id: str, *, file_id: str | None = None) -> int:
        flt = self._filter(store_id, file_ids=None if file_id is None else [file_id])
        return await self._run(self._shard.count, CountRequest(exact=True, filter=flt))

    async def close(self) -> None:
        if self._shard is not None:
            await self._run(self._close)
        self._thread.shutdown(wait=True)

    def _close(self) -> None:
        self._shard.flush()
        self._shard.close()
        self._shard = None
