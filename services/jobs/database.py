"""The jobs service's records: one MongoDB connection, each domain's tables in its database (see
services/kit/tables.py for what is used of MongoDB)."""

from typing import TypeVar

import msgspec
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from services.kit.tables import Table

T = TypeVar("T", bound=msgspec.Struct)


class Store:
    """The connection and the database; each domain (batches, fine-tuning) makes its tables from
    `db` and creates its indexes at start."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self._client = AsyncMongoClient(url, serverSelectionTimeoutMS=int(timeout * 1000),
                                        connectTimeoutMS=int(timeout * 1000))
        self.db: AsyncDatabase = self._client.get_default_database(default="vivian")

    def table(self, name: str, record_type: type[T]) -> Table[T]:
        return Table(self.db[name], record_type)

    async def close(self) -> None:
        await self._client.close()
