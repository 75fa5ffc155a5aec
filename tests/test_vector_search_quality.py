"""Retrieval quality on the labelled set tests/data/vector_search.json (what bench/vector_search.py
prints): dense-only and hybrid retrieval each find the answering document in their top 5."""

from bench.vector_search import local_model, recall
from services.vector_stores.index import open_index


async def test_recall_at_5_dense_and_hybrid(tmp_path):
    model = await local_model()
    index = open_index("edge", path=str(tmp_path / "shard"), dimensions=384)
    await index.start()
    try:
        scores = await recall(model, index)
    finally:
        await index.close()
        await model.close()
    assert scores["dense"]["recall@5"] >= 0.9, scores
    assert scores["hybrid"]["recall@5"] >= 0.9, scores
