"""Typed records in MongoDB, for every service that keeps some (files, jobs): PyMongo's async API
(`AsyncMongoClient`); locally `nx-27017`, which gives booleans back as 0 and 1, so records are read
leniently. Only what both servers do is used: CRUD, sort/limit, `$set`/`$inc`,
`find_one_and_update` as a claim, unique indexes. Filters never compare with null (nx-27017
mismatches null inside `$or`)."""

import secrets
import string
from collections.abc import Callable
from typing import Generic, TypeVar

import msgspec
from pymongo import AsyncMongoClient, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

_ALPHABET = string.ascii_letters + string.digits

T = TypeVar("T", bound=msgspec.Struct)
O = TypeVar("O")
_encode = msgspec.json.Encoder().encode


def new_id(prefix: str) -> str:
    # 24 base-62 characters: 142 random bits, shaped like OpenAI's ids.
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(24))


def sequence(created_ns: int, record_id: str) -> str:
    """The listing order: creation time, ties broken by id. One string, so a page cursor is one
    `$lt`/`$gt` comparison."""
    return f"{created_ns:020d}{record_id}"


class Database:
    """One MongoDB connection and the database the URL's path names ("vivian" when it names none);
    a service makes its tables from it and creates their indexes at start."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self._client = AsyncMongoClient(url, serverSelectionTimeoutMS=int(timeout * 1000),
                                        connectTimeoutMS=int(timeout * 1000))
        self.db: AsyncDatabase = self._client.get_default_database(default="vivian")

    def table(self, name: str, record_type: type[T]) -> "Table[T]":
        return Table(self.db[name], record_type)

    async def close(self) -> None:
        await self._client.close()


class Table(Generic[T]):
    """One collection of typed records (a Struct with `rename={"id": "_id"}`)."""

    def __init__(self, collection: AsyncCollection, record_type: type[T]) -> None:
        self.collection = collection
        self._type = record_type

    def _load(self, doc: dict | None) -> T | None:
        return None if doc is None else msgspec.convert(doc, self._type, strict=False)

    async def insert(self, record: T) -> None:
        await self.collection.insert_one(msgspec.to_builtins(record))

    async def get(self, query: dict) -> T | None:
        return self._load(await self.collection.find_one(query))

    async def find(self, query: dict, *, sort: list[tuple[str, int]] | None = None, limit: int = 0) -> list[T]:
        cursor = self.collection.find(query)
        if sort:
            cursor = cursor.sort(sort)
        if limit:
            cursor = cursor.limit(limit)
        return [msgspec.convert(doc, self._type, strict=False) async for doc in cursor]

    async def update(self, query: dict, values: dict, *, inc: dict | None = None) -> T | None:
        """`$set` `values` (and `$inc` `inc`) on the first record matching `query`, atomically; the
        record after, or None when none matched (someone else changed it first)."""
        change: dict = {"$set": values} if values else {}
        if inc:
            change["$inc"] = inc
        return self._load(await self.collection.find_one_and_update(query, change,
                                                                    return_document=ReturnDocument.AFTER))

    async def delete(self, query: dict) -> int:
        return (await self.collection.delete_many(query)).deleted_count


def page(records: list[T], limit: int, to_object: Callable[[T], O], *, budget: int) -> tuple[list[O], bool]:
    """A list page from `records` (found with `limit + 1`, so one more tells there are more): the
    API objects, and `has_more`. The page must fit one bus message, so it stops short once the
    encoded objects pass `budget` bytes, and the client asks for the rest."""
    has_more = len(records) > limit
    data, size = [], 0
    for record in records[:limit]:
        item = to_object(record)
        size += len(_encode(item)) + 1
        if size > budget:
            return data, True
        data.append(item)
    return data, has_more
