"""The vector index interface: the same suite on both backends (qdrant-edge-py embedded, and
qdrant-client's async client in local mode, the server backend's code path)."""

import math
import random

import pytest

from services.vector_stores.index import IndexPoint, open_index
from services.vector_stores.index.base import point_id

DIM = 8


def unit(seed: int) -> list[float]:
    rng = random.Random(seed)
    v = [rng.gauss(0, 1) for _ in range(DIM)]
    norm = math.sqrt(sum(x * x for x in v))
    return [x / norm for x in v]


@pytest.fixture(params=["edge", "server"])
async def index(request, tmp_path):
    if request.param == "edge":
        idx = open_index("edge", path=str(tmp_path / "shard"), dimensions=DIM)
    else:
        idx = open_index("server", url=":memory:", dimensions=DIM)
    await idx.start()
    yield idx
    await idx.close()


def points(store: str, file: str, n: int, *, parts: int = 1, seed: int = 0) -> list[IndexPoint]:
    return [IndexPoint(store_id=store, file_id=file, chunk_index=i, part=p, text=f"{file} chunk {i}",
                       vector=unit(seed + i * 10 + p)) for i in range(n) for p in range(parts)]


async def test_search_finds_the_nearest_chunk_within_its_store(index):
    await index.upsert(points("vs_a", "file-1", 5) + points("vs_b", "file-2", 5))
    found = await index.search("vs_a", unit(20), limit=3)
    assert found[0].file_id == "file-1" and found[0].chunk_index == 2
    assert found[0].score == pytest.approx(1.0, abs=1e-4)
    assert all(hit.file_id == "file-1" for hit in found) and len(found) == 3


async def test_upsert_again_does_not_duplicate(index):
    await index.upsert(points("vs_a", "file-1", 4, parts=2))
    await index.upsert(points("vs_a", "file-1", 4, parts=2))
    assert await index.count("vs_a") == 8
    assert len(await index.chunks("vs_a")) == 4


async def test_parts_of_a_chunk_give_one_hit(index):
    await index.upsert(points("vs_a", "file-1", 3, parts=3))
    found = await index.search("vs_a", unit(11), limit=10)  # chunk 1, part 1
    assert [(h.chunk_index, h.text) for h in found][0] == (1, "file-1 chunk 1")
    assert len(found) == 3


async def test_file_filter(index):
    await index.upsert(points("vs_a", "file-1", 3) + points("vs_a", "file-2", 3, seed=100))
    found = await index.search("vs_a", unit(0), limit=10, file_ids=["file-2"])
    assert {hit.file_id for hit in found} == {"file-2"}
    assert await index.search("vs_a", unit(0), limit=10, file_ids=[]) == []
    assert [h.chunk_index for h in await index.chunks("vs_a", file_ids=["file-1"])] == [0, 1, 2]


async def test_delete_a_file_and_a_store(index):
    await index.upsert(points("vs_a", "file-1", 3) + points("vs_a", "file-2", 3) + points("vs_b", "file-1", 2))
    await index.delete("vs_a", file_id="file-1")
    assert await index.count("vs_a") == 3 and await index.count("vs_a", file_id="file-1") == 0
    await index.delete("vs_a")
    assert await index.count("vs_a") == 0
    assert await index.count("vs_b") == 2


async def test_keyword_search_ranks_by_bm25(index):
    texts = ["the quick brown fox", "a lazy dog sleeps", "the fox and the fox cub", "pump error E4471"]
    await index.upsert([IndexPoint(store_id="vs_a", file_id=f"file-{n}", chunk_index=0, part=0, text=text,
                                   vector=unit(n)) for n, text in enumerate(texts)]
                       + [IndexPoint(store_id="vs_a", file_id="file-2", chunk_index=0, part=1, text=texts[2],
                                     vector=unit(9))])
    assert [h.file_id for h in await index.keyword_search("vs_a", "fox", limit=5)] == ["file-2", "file-0"]
    assert [h.file_id for h in await index.keyword_search("vs_a", "E4471", limit=5)] == ["file-3"]
    assert await index.keyword_search("vs_a", "the and", limit=5) == []  # stop words only
    assert [h.file_id for h in await index.keyword_search("vs_a", "fox", limit=5, file_ids=["file-0"])] == ["file-0"]
    assert await index.keyword_search("vs_b", "fox", limit=5) == []


async def test_versions_of_a_file_are_apart(index):
    """A file added again is a new version: what is left of the earlier one goes without the new."""
    old = [IndexPoint(store_id="vs_a", file_id="file-1", chunk_index=i, part=0, text=f"old {i}", vector=unit(i),
                      version="v1") for i in range(3)]
    new = [IndexPoint(store_id="vs_a", file_id="file-1", chunk_index=i, part=0, text=f"new {i}", vector=unit(i),
                      version="v2") for i in range(2)]
    await index.upsert(old + new)
    await index.delete("vs_a", file_id="file-1", version="v1")
    assert [hit.text for hit in await index.chunks("vs_a")] == ["new 0", "new 1"]


def test_point_ids_are_deterministic():
    assert point_id("vs", "f", 1, 0) == point_id("vs", "f", 1, 0) != point_id("vs", "f", 1, 1)
    assert point_id("vs", "f", 1, 0, "v1") != point_id("vs", "f", 1, 0, "v2")


async def test_edge_shard_survives_reopening(tmp_path):
    idx = open_index("edge", path=str(tmp_path / "shard"), dimensions=DIM)
    await idx.start()
    await idx.upsert(points("vs_a", "file-1", 4))
    await idx.close()
    again = open_index("edge", path=str(tmp_path / "shard"), dimensions=DIM)
    await again.start()
    try:
        assert await again.count("vs_a") == 4
    finally:
        await again.close()
