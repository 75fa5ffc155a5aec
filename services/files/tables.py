"""The metadata store: MongoDB through PyMongo's async API (`AsyncMongoClient`); locally `nx-27017`.

Only what both servers do is used: CRUD, sort/limit, `$set`, `find_one_and_update` as a claim,
indexes. Filters never compare with null (nx-27017 mismatches null inside `$or`): "never expires"
is a far-future number, "no multipart upload" an empty string.

A record is written *before* its bytes (state `staged`), so every object in the store has a record
that points at it and a sweep can always find what a crash left behind. Clients see only `ready`.
"""

from typing import Literal

import msgspec
from pymongo import ASCENDING

from services.kit.tables import Database, Table

NEVER = 2**62  # `expires_by` of what never expires


class ObjectRecord(msgspec.Struct, kw_only=True, rename={"id": "_id"}):
    """A file, or a part of an Upload: one object in the store."""

    id: str
    project: str
    state: Literal["staged", "ready", "deleting"]
    key: str  # the object's key in the bucket
    seq: str
    created_at: int
    bytes: int = 0
    filename: str = ""
    purpose: str = ""
    expires_by: int = NEVER  # unix seconds
    stage_until: int = 0  # a stage not committed by then is abandoned and swept
    multipart: str = ""  # the store's multipart upload id while one is open
    upload_id: str = ""  # parts: the Upload they belong to
    claimed_at: int = 0  # when a delete began (a crashed one is resumed by the sweep)


class UploadRecord(msgspec.Struct, kw_only=True, rename={"id": "_id"}):
    id: str
    project: str
    filename: str
    purpose: str
    bytes: int
    mime_type: str
    created_at: int
    expires_at: int
    status: Literal["pending", "completing", "completed", "cancelled", "expired"]
    # Chosen when completion begins (status `completing`), so a sweep can tell a completion that
    # crashed before its file was ready from one that crashed after.
    file_id: str = ""
    file_expires_after: int = 0  # seconds; 0: the purpose's default
    claimed_at: int = 0  # when completion began


class Records:
    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self._database = Database(url, timeout=timeout)
        self.files: Table[ObjectRecord] = self._database.table("files", ObjectRecord)
        self.parts: Table[ObjectRecord] = self._database.table("upload_parts", ObjectRecord)
        self.uploads: Table[UploadRecord] = self._database.table("uploads", UploadRecord)

    async def ensure_indexes(self) -> None:
        # Index names are left to the server (nx-27017 does not keep custom ones).
        files, parts, uploads = self.files.collection, self.parts.collection, self.uploads.collection
        await files.create_index([("project", ASCENDING), ("state", ASCENDING), ("seq", ASCENDING)])
        await files.create_index([("key", ASCENDING)], unique=True)
        for table in (files, parts):
            await table.create_index([("state", ASCENDING), ("stage_until", ASCENDING)])
            await table.create_index([("state", ASCENDING), ("expires_by", ASCENDING)])
        await parts.create_index([("upload_id", ASCENDING), ("state", ASCENDING)])
        await uploads.create_index([("status", ASCENDING), ("expires_at", ASCENDING)])

    async def close(self) -> None:
        await self._database.close()
