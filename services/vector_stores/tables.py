"""The vector stores service's records in MongoDB (services/kit/tables.py says what of MongoDB is used).

- `vector_stores`: a store's id, project, name, metadata, expiry and last activity.
- `vector_store_files`: one record per file in a store (`<store id>/<file id>`): its status, the
  chunking it was or is ingested with, its attributes (what search filters read), its size in the
  index, and the batch that added it, if any. The chunks themselves are in the vector index.
- `vector_store_file_batches`: a batch's id, store and status; its counts come from its files.
"""

import msgspec

from services.kit.tables import Database
from shared.protocol.vector_stores import ExpiresAfter, LastError


class StoreRecord(msgspec.Struct, kw_only=True, rename={"id": "_id"}):
    id: str
    project: str
    created_at: int
    seq: str
    name: str = ""
    metadata: dict[str, str] = {}
    expires_after: ExpiresAfter | None = None
    last_active_at: int = 0
    expires_at: int = 0  # 0: never; else when an idle store expires (the sweep looks for these)
    expired: bool = False


class FileRecord(msgspec.Struct, kw_only=True, rename={"id": "_id"}):
    id: str  # `<store id>/<file id>`
    vector_store_id: str
    file_id: str
    project: str
    created_at: int
    seq: str
    status: str = "in_progress"
    last_error: LastError | None = None
    chunk_size: int = 800
    chunk_overlap: int = 400
    attributes: dict[str, str | int | float | bool] | None = None
    usage_bytes: int = 0
    filename: str = ""
    batch_id: str = ""
    attempts: int = 0  # ingestion starts (a restart after a crash is one more)


class BatchRecord(msgspec.Struct, kw_only=True, rename={"id": "_id"}):
    id: str
    vector_store_id: str
    project: str
    created_at: int
    status: str = "in_progress"  # until its files end; "cancelled" when asked


class Tables:
    def __init__(self, url: str) -> None:
        self._db = Database(url)
        self.stores = self._db.table("vector_stores", StoreRecord)
        self.files = self._db.table("vector_store_files", FileRecord)
        self.batches = self._db.table("vector_store_file_batches", BatchRecord)

    async def ensure_indexes(self) -> None:
        # Index names are left to the server (nx-27017 does not keep custom ones).
        await self.stores.collection.create_index([("project", 1), ("seq", 1)])
        await self.files.collection.create_index([("vector_store_id", 1), ("seq", 1)])
        await self.files.collection.create_index([("batch_id", 1)])

    async def close(self) -> None:
        await self._db.close()
