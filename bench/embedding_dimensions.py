"""Retrieval quality of the local embedding model at reduced `dimensions`, through the same code path
the embeddings service answers with (first N values, renormalised).

    .venv/bin/python -m bench.embedding_dimensions [--dims 384 256 128 64]

On bench/data/retrieval.json (30 queries, each with one relevant document among 60: its own and a
same-topic distractor for every query) it prints recall@1 and the mean reciprocal rank of the
relevant document for each size.
"""

import argparse
import asyncio
import json
from pathlib import Path

import msgspec
import numpy as np

from services.embeddings import embeddings
from services.embeddings.providers.onnx_embedding import OnnxEmbedding
from shared import modelconfig
from shared.protocol.embeddings import EmbeddingRequest

DATA = Path(__file__).resolve().parent / "data" / "retrieval.json"


async def embed(model: OnnxEmbedding, texts: list[str], dims: int) -> np.ndarray:
    request = EmbeddingRequest(model="bench", input=texts, dimensions=dims, encoding_format="float")
    answer = json.loads(await embeddings.create(request, model, "bench"))
    return np.array([d["embedding"] for d in answer["data"]], dtype=np.float32)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dims", type=int, nargs="+", default=[384, 256, 128, 64])
    args = parser.parse_args()
    data = msgspec.json.decode(DATA.read_bytes())
    entry = next(e for e in modelconfig.load().models if isinstance(e, modelconfig.LocalEmbeddingModel))
    model = OnnxEmbedding(entry)
    await model.start()
    print(f"model {entry.id}, {len(data['queries'])} queries over "
          f"{len(data['documents']) + len(data['distractors'])} documents")
    for dims in args.dims:
        docs = await embed(model, data["documents"] + data["distractors"], dims)
        queries = await embed(model, data["queries"], dims)
        scores = queries @ docs.T
        ranks = [int((row > row[i]).sum()) + 1 for i, row in enumerate(scores)]
        print(f"dimensions {dims:4d}: recall@1 {np.mean([r == 1 for r in ranks]):.2f}, "
              f"MRR {np.mean([1 / r for r in ranks]):.3f}")
    await model.close()


if __name__ == "__main__":
    asyncio.run(main())
