"""The server backend: qdrant-client's async client against a Qdrant server or cluster (`url`), which
every replica of the service shares. One collection holds every store, its `vector_store_id`
payload indexed as the tenant key. With `url=":memory:"` or a `path`, qdrant-client runs its local
mode (the same client calls, in Python): what the tests use, as no Qdrant server installs here."""

from collections.abc import Collection, Sequence

from qdrant_client import AsyncQdrantClient, models

from services.vector_stores.index.base import CHUNK, FILE, PART, STORE, TEXT, VERSION, Hit, IndexPoint, hits
from services.vector_stores.ranking import keyword_vector, query_vector

VECTOR, KEYWORDS = "text", "keywords"

SCROLL_PAGE = 1024


class ServerIndex:
    def __init__(self, *, url: str = "", path: str = "", api_key: str = "", collection: str,
                 dimensions: int) -> None:
        if url == ":memory:":
            self._client = AsyncQdrantClient(location=":memory:")
        elif path:
            self._client = AsyncQdrantClient(path=path)
        else:
            self._client = AsyncQdrantClient(url=url, api_key=api_key or None)
        self._collection, self._dimensions = collection, dimensions

    async def start(self) -> None:
        if await self._client.collection_exists(self._collection):
            return
        await self._client.create_collection(
            self._collection,
            vectors_config={VECTOR: models.VectorParams(size=self._dimensions, distance=models.Distance.COSINE)},
            sparse_vectors_config={KEYWORDS: models.SparseVectorParams(modifier=models.Modifier.IDF)})
        await self._client.create_payload_index(self._collection, STORE,
                                                models.KeywordIndexParams(type="keyword", is_tenant=True))
        for key in (FILE, VERSION):
            await self._client.create_payload_index(self._collection, key, models.PayloadSchemaType.KEYWORD)

    @staticmethod
    def _filter(store_id: str, *, file_ids: Collection[str] | None = None, part: int | None = None,
                version: str | None = None) -> models.Filter:
        must = [models.FieldCondition(key=STORE, match=models.MatchValue(value=store_id))]
        if file_ids is not None:
            must.append(models.FieldCondition(key=FILE, match=models.MatchAny(any=list(file_ids))))
        if part is not None:
            must.append(models.FieldCondition(key=PART, match=models.MatchValue(value=part)))
        if version is not None:
            must.append(models.FieldCondition(key=VERSION, match=models.MatchValue(value=version)))
        return models.Filter(must=must)

    async def upsert(self, points: Sequence[IndexPoint]) -> None:
        if points:
            await self._client.upsert(self._collection, points=[
                models.PointStruct(id=p.id, vector=self._vectors(p), payload=p.payload()) for p in points])

    @staticmethod
    def _vectors(point: IndexPoint) -> dict:
        if point.part:
            return {VECTOR: point.vector}
        indices, values = keyword_vector(point.text)
        return {VECTOR: point.vector, KEYWORDS: models.SparseVector(indices=indices, values=values)}

    async def keyword_search(self, store_id: str, query: str, *, limit: int,
                             file_ids: Collection[str] | None = None) -> list[Hit]:
        indices, values = query_vector(query)
        if not indices or (file_ids is not None and not file_ids):
            return []
        sparse = models.SparseVector(indices=indices, values=values)
        found = await self._client.query_points(self._collection, query=sparse, using=KEYWORDS, limit=limit,
                                                with_payload=True,
                                                query_filter=self._filter(store_id, file_ids=file_ids))
        return hits(((point.payload, point.score) for point in found.points), limit)

    async def search(self, store_id: str, vector: list[float], *, limit: int,
                     file_ids: Collection[str] | None = None) -> list[Hit]:
        if file_ids is not None and not file_ids:
            return []
        found = await self._client.query_points(self._collection, query=vector, using=VECTOR, limit=limit * 4,
                                                with_payload=True,
                                                query_filter=self._filter(store_id, file_ids=file_ids))
        return hits(((point.payload, point.score) for point in found.points), limit)

    async def chunks(self, store_id: str, *, file_ids: Collection[str] | None = None) -> list[Hit]:
        if file_ids is not None and not file_ids:
            return []
        flt, found, offset = self._filter(store_id, file_ids=file_ids, part=0), [], None
        while True:
            records, offset = await self._client.scroll(self._collection, scroll_filter=flt, limit=SCROLL_PAGE,
                                                        offset=offset, with_payload=True)
            found += [Hit(file_id=r.payload[FILE], chunk_index=int(r.payload[CHUNK]), text=r.payload[TEXT])
                      for r in records]
            if offset is None:
                return sorted(found, key=lambda hit: (hit.file_id, hit.chunk_index))

    async def delete(self, store_id: str, *, file_id: str | None = None, version: str | None = None) -> None:
        flt = self._filter(store_id, file_ids=None if file_id is None else [file_id], version=version)
        await self._client.delete(self._collection, points_selector=models.FilterSelector(filter=flt))

    async def count(self, store_id: str, *, file_id: str | None = None) -> int:
        flt = self._filter(store_id, file_ids=None if file_id is None else [file_id])
        return (await self._client.count(self._collection, count_filter=flt, exact=True)).count

    async def close(self) -> None:
        await self._client.close()
