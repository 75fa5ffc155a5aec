"""POST and GET /v1/vector_stores, GET, POST and DELETE /v1/vector_stores/{vector_store_id},
POST /v1/vector_stores/{vector_store_id}/search,
POST and GET /v1/vector_stores/{vector_store_id}/files,
GET, POST and DELETE /v1/vector_stores/{vector_store_id}/files/{file_id},
GET /v1/vector_stores/{vector_store_id}/files/{file_id}/content,
POST /v1/vector_stores/{vector_store_id}/file_batches,
GET /v1/vector_stores/{vector_store_id}/file_batches/{batch_id},
POST /v1/vector_stores/{vector_store_id}/file_batches/{batch_id}/cancel,
GET /v1/vector_stores/{vector_store_id}/file_batches/{batch_id}/files"""

import msgspec
from aiohttp import web

from services.edge.reading.body import convert, read_json
from services.edge.relay import by_id, by_query, forward
from shared import subjects
from shared.protocol.vector_stores import (BatchCreate, BatchCreateRequest, BatchRef, FileAttributesRequest,
    FileAttributesUpdate, FileCreate, FileCreateRequest, FileListQuery, FileRef, Search, SearchRequest,
    VectorStoreCreateRequest, VectorStoreListQuery, VectorStoreUpdate, VectorStoreUpdateRequest)

_create = msgspec.json.Decoder(VectorStoreCreateRequest)
_update = msgspec.json.Decoder(VectorStoreUpdateRequest)
_search = msgspec.json.Decoder(SearchRequest)
_file_create = msgspec.json.Decoder(FileCreateRequest)
_attributes = msgspec.json.Decoder(FileAttributesRequest)
_batch_create = msgspec.json.Decoder(BatchCreateRequest)
_encode = msgspec.json.Encoder().encode
routes = web.RouteTableDef()

STORE = "/v1/vector_stores/{vector_store_id}"
FILE = STORE + "/files/{file_id}"
BATCH = STORE + "/file_batches/{batch_id}"


def _store(request: web.Request) -> str:
    return request.match_info["vector_store_id"]


def _file(request: web.Request) -> bytes:
    return _encode(FileRef(vector_store_id=_store(request), file_id=request.match_info["file_id"]))


def _batch(request: web.Request) -> bytes:
    return _encode(BatchRef(vector_store_id=_store(request), batch_id=request.match_info["batch_id"]))


@routes.post("/v1/vector_stores")
async def create(request: web.Request) -> web.StreamResponse:
    body = await request.read()
    if body.strip():  # every field is optional
        body, _ = await read_json(request, _create)
    return await forward(request, subjects.VECTOR_STORES_CREATE, body if body.strip() else b"{}")


routes.get("/v1/vector_stores")(by_query(subjects.VECTOR_STORES_LIST, VectorStoreListQuery))
routes.get(STORE)(by_id(subjects.VECTOR_STORES_RETRIEVE, "vector_store_id"))
routes.delete(STORE)(by_id(subjects.VECTOR_STORES_DELETE, "vector_store_id"))


@routes.post(STORE)
async def update(request: web.Request) -> web.StreamResponse:
    _, change = await read_json(request, _update)
    return await forward(request, subjects.VECTOR_STORES_UPDATE,
                         _encode(VectorStoreUpdate(vector_store_id=_store(request), change=change)))


@routes.post(STORE + "/search")
async def search(request: web.Request) -> web.StreamResponse:
    _, ask = await read_json(request, _search)
    return await forward(request, subjects.VECTOR_STORES_SEARCH, _encode(Search(vector_store_id=_store(request),
                                                                                search=ask)))


@routes.post(STORE + "/files")
async def create_file(request: web.Request) -> web.StreamResponse:
    _, file = await read_json(request, _file_create)
    return await forward(request, subjects.VECTOR_STORES_FILES_CREATE,
                         _encode(FileCreate(vector_store_id=_store(request), file=file)))


@routes.get(STORE + "/files")
async def list_files(request: web.Request) -> web.StreamResponse:
    query = convert({**request.query, "vector_store_id": _store(request)}, FileListQuery)
    return await forward(request, subjects.VECTOR_STORES_FILES_LIST, _encode(query))


@routes.get(FILE)
async def retrieve_file(request: web.Request) -> web.StreamResponse:
    return await forward(request, subjects.VECTOR_STORES_FILES_RETRIEVE, _file(request))


@routes.post(FILE)
async def update_file(request: web.Request) -> web.StreamResponse:
    _, change = await read_json(request, _attributes)
    return await forward(request, subjects.VECTOR_STORES_FILES_UPDATE, _encode(FileAttributesUpdate(
        vector_store_id=_store(request), file_id=request.match_info["file_id"], attributes=change.attributes)))


@routes.delete(FILE)
async def delete_file(request: web.Request) -> web.StreamResponse:
    return await forward(request, subjects.VECTOR_STORES_FILES_DELETE, _file(request))


@routes.get(FILE + "/content")
async def file_content(request: web.Request) -> web.StreamResponse:
    return await forward(request, subjects.VECTOR_STORES_FILES_CONTENT, _file(request))


@routes.post(STORE + "/file_batches")
async def create_batch(request: web.Request) -> web.StreamResponse:
    _, batch = await read_json(request, _batch_create)
    return await forward(request, subjects.VECTOR_STORES_FILE_BATCHES_CREATE,
                         _encode(BatchCreate(vector_store_id=_store(request), batch=batch)))


@routes.get(BATCH)
async def retrieve_batch(request: web.Request) -> web.StreamResponse:
    return await forward(request, subjects.VECTOR_STORES_FILE_BATCHES_RETRIEVE, _batch(request))


@routes.post(BATCH + "/cancel")
async def cancel_batch(request: web.Request) -> web.StreamResponse:
    return await forward(request, subjects.VECTOR_STORES_FILE_BATCHES_CANCEL, _batch(request))


@routes.get(BATCH + "/files")
async def list_batch_files(request: web.Request) -> web.StreamResponse:
    query = convert({**request.query, "vector_store_id": _store(request), "batch_id": request.match_info["batch_id"]},
                    FileListQuery)
    return await forward(request, subjects.VECTOR_STORES_FILE_BATCHES_FILES, _encode(query))
