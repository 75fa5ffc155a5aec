"""Vector store search: retrieval quality, and the index's speed on both backends.

    .venv/bin/python -m bench.vector_search [--sizes 10000 100000] [--server-max 10000] [--queries 200]

1. recall@1, recall@5 and MRR of dense-only and hybrid retrieval (services/vector_stores/search.py, `ranked`) on the
   labelled set tests/data/vector_search.json, embedded by the local model in this process;
2. for each backend and store size: ingestion (index upserts of 256 points, chunks/s) and search
   latency p50/p99 in ms, dense (the index's query) and hybrid (dense plus BM25 over the store's
   chunks, fused), on random unit vectors with random 20-word texts. qdrant-client's local mode
   (the server backend's code path here, as no Qdrant server installs) is pure Python and only runs
   up to `--server-max` chunks.
"""

import argparse
import asyncio
import json
import random
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.embedding_dimensions import embed
from services.vector_stores.index import IndexPoint, VectorIndex, open_index
from services.vector_stores.search import ranked

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "vector_search.json"
DIM = 384
STORE = "vs_bench"


async def local_model():
    from services.embeddings.providers.onnx_embedding import OnnxEmbedding
    from shared import modelconfig

    entry = next(e for e in modelconfig.load().models if isinstance(e, modelconfig.LocalEmbeddingModel))
    model = OnnxEmbedding(entry)
    await model.start()
    return model


async def recall(model, index: VectorIndex) -> dict[str, dict[str, float]]:
    """recall@1, recall@5 and the mean reciprocal rank of dense-only and of hybrid retrieval on the
    labelled set, one chunk per document."""
    data = json.loads(DATA.read_text())
    names, texts = list(data["documents"]), list(data["documents"].values())
    vectors = await embed(model, texts, DIM)
    await index.upsert([IndexPoint(store_id=STORE, file_id=name, chunk_index=0, part=0, text=text,
                                   vector=vector.tolist()) for name, text, vector in zip(names, texts, vectors)])
    queries = [query for query, _ in data["queries"]]
    query_vectors = await embed(model, queries, DIM)
    ranks: dict[str, list[int]] = {"dense": [], "hybrid": []}
    for (query, relevant), vector in zip(data["queries"], query_vectors):
        for mode, found in ranks.items():
            top = [hit.file_id for hit, _ in await ranked(index, STORE, [query], [vector.tolist()], None,
                                                          hybrid=mode == "hybrid")]
            found.append(top.index(relevant) + 1 if relevant in top else len(names) + 1)
    return {mode: {"recall@1": float(np.mean([r == 1 for r in found])),
                   "recall@5": float(np.mean([r <= 5 for r in found])),
                   "mrr": float(np.mean([1 / r for r in found]))} for mode, found in ranks.items()}


def _points(n: int, rng: np.random.Generator, words: list[str]) -> list[IndexPoint]:
    vectors = rng.standard_normal((n, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    pick = random.Random(1)
    return [IndexPoint(store_id=STORE, file_id=f"file-{i // 100}", chunk_index=i % 100, part=0,
                       text=" ".join(pick.choices(words, k=20)), vector=vector.tolist())
            for i, vector in enumerate(vectors)]


def _percentiles(seconds: list[float]) -> str:
    ms = np.array(seconds) * 1000
    return f"p50 {np.percentile(ms, 50):8.1f} ms  p99 {np.percentile(ms, 99):8.1f} ms"


async def speed(backend: str, size: int, queries: int) -> None:
    rng = np.random.default_rng(size)
    words = [f"w{i}" for i in range(5000)]
    points = _points(size, rng, words)
    with tempfile.TemporaryDirectory() as tmp:
        index = open_index(backend, path=f"{tmp}/shard", url=":memory:", dimensions=DIM)
        await index.start()
        started = time.perf_counter()
        for start in range(0, size, 256):
            await index.upsert(points[start:start + 256])
        ingest = time.perf_counter() - started
        probes = [points[i] for i in rng.integers(0, size, queries)]
        dense = []
        for probe in probes:
            t = time.perf_counter()
            await index.search(STORE, probe.vector, limit=50)
            dense.append(time.perf_counter() - t)
        hybrid = []
        for probe in probes[:max(5, queries // 10)]:
            t = time.perf_counter()
            await ranked(index, STORE, [" ".join(probe.text.split()[:3])], [probe.vector], None, hybrid=True)
            hybrid.append(time.perf_counter() - t)
        await index.close()
    print(f"{backend:6s} {size:7d} chunks: ingest {size / ingest:8.0f} chunks/s | dense {_percentiles(dense)} | "
          f"hybrid {_percentiles(hybrid)} (n={len(hybrid)})", flush=True)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--server-max", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    model = await local_model()
    with tempfile.TemporaryDirectory() as tmp:
        index = open_index("edge", path=f"{tmp}/shard", dimensions=DIM)
        await index.start()
        scores = await recall(model, index)
        await index.close()
    await model.close()
    for mode, figures in scores.items():
        print(f"{mode:6s} on {DATA.name}: " + ", ".join(f"{name} {value:.2f}" for name, value in figures.items()),
              flush=True)
    for size in args.sizes:
        for backend in ("edge", "server"):
            if backend == "server" and size > args.server_max:
                continue
            await speed(backend, size, args.queries)


if __name__ == "__main__":
    asyncio.run(main())
