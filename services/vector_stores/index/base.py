"""The vector index interface. A point is one vector of one chunk of one file in one store: a chunk
longer than the embedding model's window is several points (`part` 0, 1, …), each with the chunk's
whole text, so a hit on any part returns the whole chunk. Part 0 also holds the chunk's sparse
keyword vector (BM25 weights, services/vector_stores/ranking.py), for the keyword half of a search.
Point ids are derived from (store, file, version, chunk, part), so writing a chunk again (a retried
ingestion step) replaces it; `version` tells one addition of a file to a store from a later one,
whose ingestion must not be touched by what is left of the earlier's."""

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Protocol

_NAMESPACE = uuid.UUID("6f1d3f5e-3c1a-4a8e-9a57-0d7c6c2b1e11")

# Payload keys
STORE, FILE, VERSION, CHUNK, PART, TEXT = "vector_store_id", "file_id", "version", "chunk_index", "part", "text"


def point_id(store_id: str, file_id: str, chunk_index: int, part: int, version: str = "") -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{store_id}/{file_id}/{version}/{chunk_index}/{part}"))


@dataclass(frozen=True, slots=True)
class IndexPoint:
    store_id: str
    file_id: str
    chunk_index: int
    part: int
    text: str
    vector: list[float]
    version: str = ""

    @property
    def id(self) -> str:
        return point_id(self.store_id, self.file_id, self.chunk_index, self.part, self.version)

    def payload(self) -> dict:
        return {STORE: self.store_id, FILE: self.file_id, VERSION: self.version, CHUNK: self.chunk_index,
                PART: self.part, TEXT: self.text}


@dataclass(frozen=True, slots=True)
class Hit:
    """A chunk found: by a search (`score`, the cosine similarity of its best part) or a listing."""

    file_id: str
    chunk_index: int
    text: str
    score: float = 0.0


def hits(payloads_and_scores, limit: int) -> list[Hit]:
    """One hit per chunk (its best-scoring part), best first, at most `limit`."""
    best: dict[tuple[str, int], Hit] = {}
    for payload, score in payloads_and_scores:
        key = (payload[FILE], int(payload[CHUNK]))
        if key not in best or score > best[key].score:
            best[key] = Hit(file_id=key[0], chunk_index=key[1], text=payload[TEXT], score=float(score))
    return sorted(best.values(), key=lambda hit: -hit.score)[:limit]


class VectorIndex(Protocol):
    """`file_ids`: None searches every file of the store; an empty collection finds nothing."""

    async def start(self) -> None: ...

    async def upsert(self, points: Sequence[IndexPoint]) -> None: ...

    async def search(self, store_id: str, vector: list[float], *, limit: int,
                     file_ids: Collection[str] | None = None) -> list[Hit]: ...

    async def keyword_search(self, store_id: str, query: str, *, limit: int,
                             file_ids: Collection[str] | None = None) -> list[Hit]:
        """Chunks by their BM25 score for `query` (`ranking.keyword_vector`); none share a word: []."""
        ...

    async def chunks(self, store_id: str, *, file_ids: Collection[str] | None = None) -> list[Hit]:
        """Every chunk (part 0 of each), in file and chunk order."""
        ...

    async def delete(self, store_id: str, *, file_id: str | None = None, version: str | None = None) -> None:
        """The store's points, or one file's, or one version of one file's."""
        ...

    async def count(self, store_id: str, *, file_id: str | None = None) -> int:
        """Points (not chunks) of the store, or of one of its files."""
        ...

    async def close(self) -> None: ...
