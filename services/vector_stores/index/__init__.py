"""Where a vector store's chunks live: one small interface (`base.VectorIndex`) on Qdrant's data
model, with two backends. `edge` (qdrant-edge-py, Qdrant's engine in this process) is the default,
owned by one process; `server` (qdrant-client's async client) talks to a Qdrant server or cluster,
which any number of replicas can share."""

from services.vector_stores.index.base import Hit, IndexPoint, VectorIndex


def open_index(backend: str, *, path: str = "", url: str = "", api_key: str = "", collection: str = "vivian_chunks",
               dimensions: int = 384) -> VectorIndex:
    """`backend` is "edge" (a shard in directory `path`) or "server" (a Qdrant at `url`; ":memory:"
    or a `path` runs qdrant-client's local mode, for tests)."""
    if backend == "edge":
        from services.vector_stores.index.edge import EdgeIndex

        return EdgeIndex(path, dimensions=dimensions)
    if backend == "server":
        from services.vector_stores.index.server import ServerIndex

        return ServerIndex(url=url, path=path, api_key=api_key, collection=collection, dimensions=dimensions)
    raise ValueError(f"unknown vector index backend {backend!r} (edge or server)")


__all__ = ["Hit", "IndexPoint", "VectorIndex", "open_index"]
