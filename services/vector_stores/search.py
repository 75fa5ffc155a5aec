"""`POST /v1/vector_stores/{id}/search`: the chunks nearest to a query, among the files whose
attributes match `filters`.

Retrieval is hybrid unless `ranking_options.ranker` is "none": the dense ranking (cosine similarity
of the query's vector with each chunk's best window) and a keyword ranking (BM25, scored by the
index on sparse keyword vectors) are fused by reciprocal rank fusion; `score` is then the fused score scaled to (0, 1].
With "none" the ranking is dense alone and `score` is the cosine similarity. `score_threshold`
drops results below it. `rewrite_query` is accepted; queries are searched as given.
"""

import msgspec

from services.kit import service as bus_service
from services.vector_stores import filters, lookup, ranking
from services.vector_stores.context import Context
from services.vector_stores.embedding import embed
from services.vector_stores.index import Hit, VectorIndex
from shared import errors
from shared.protocol.bus import Envelope
from shared.protocol.vector_stores import ContentPart, Search, SearchResult, SearchResultsPage

_search = msgspec.json.Decoder(Search)
CANDIDATES = 50  # chunks each ranking contributes to the fusion


async def search(ctx: Context, envelope: Envelope) -> SearchResultsPage:
    request = bus_service.decode(_search, envelope.body)
    ask = request.search
    queries = [ask.query] if isinstance(ask.query, str) else list(ask.query)
    if not any(query.strip() for query in queries):
        raise errors.invalid_request("`query` must not be empty.", param="query")
    if ask.filters is not None:
        filters.check(ask.filters)
    store = await lookup.live_store(ctx, request.vector_store_id, envelope.project)
    files = {r.file_id: r for r in await ctx.tables.files.find({"vector_store_id": store.id, "status": "completed"})}
    if ask.filters is not None:
        files = {file_id: r for file_id, r in files.items() if filters.matches(ask.filters, r.attributes)}
    options = ask.ranking_options
    hybrid = options is None or options.ranker != "none"
    found = []
    if files:
        vectors = await embed(ctx, queries, project=envelope.project, request_id=envelope.request_id)
        found = await ranked(ctx.index, store.id, queries, vectors, list(files), hybrid=hybrid)
    threshold = options.score_threshold if options is not None else 0.0
    data = [SearchResult(file_id=hit.file_id, filename=files[hit.file_id].filename, score=score,
                         attributes=files[hit.file_id].attributes, content=[ContentPart(text=hit.text)])
            for hit, score in found if score >= threshold][:ask.max_num_results]
    await lookup.touch(ctx, store)
    return SearchResultsPage(search_query=queries, data=data)


async def ranked(index: VectorIndex, store_id: str, queries: list[str], vectors: list[list[float]],
                 file_ids: list[str] | None, *, hybrid: bool) -> list[tuple[Hit, float]]:
    """The chunks of `file_ids` (None: every file of the store) for `queries` (and their `vectors`),
    best first, with their scores."""
    dense = [await index.search(store_id, vector, limit=CANDIDATES, file_ids=file_ids) for vector in vectors]
    if not hybrid:
        best: dict[tuple[str, int], Hit] = {}
        for hit in (hit for found in dense for hit in found):
            key = (hit.file_id, hit.chunk_index)
            if key not in best or hit.score > best[key].score:
                best[key] = hit
        return sorted(((hit, max(0.0, min(1.0, hit.score))) for hit in best.values()), key=lambda item: -item[1])
    keyword = [await index.keyword_search(store_id, query, limit=CANDIDATES, file_ids=file_ids) for query in queries]
    by_key = {(hit.file_id, hit.chunk_index): hit for found in dense + keyword for hit in found}
    rankings = [[(hit.file_id, hit.chunk_index) for hit in found] for found in dense + keyword]
    return [(by_key[key], score) for key, score in ranking.fuse(rankings)]
