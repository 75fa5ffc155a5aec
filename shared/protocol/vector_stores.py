"""`/v1/vector_stores` (+ `/files`, `/file_batches`, `/search`): OpenAI's objects, the requests as
the API takes them, and what the edge sends the vector stores service (the request plus the ids in
its path). Requests ignore fields they do not name, so clients may send newer ones."""

from typing import Annotated, Literal

from msgspec import UNSET, Meta, Struct, UnsetType

from shared.protocol.metadata import Key, Metadata, Value

# OpenAI's limits: 16 pairs, keys up to 64 characters, values up to 512.
AttributeValue = Value | int | float | bool
Attributes = Annotated[dict[Key, AttributeValue], Meta(max_length=16)]
Limit = Annotated[int, Meta(ge=1, le=100)]
Order = Literal["asc", "desc"]
FileStatus = Literal["in_progress", "completed", "cancelled", "failed"]

# ---------------------------------------------------------------- chunking


class StaticChunking(Struct, kw_only=True):
    max_chunk_size_tokens: int
    chunk_overlap_tokens: int


class AutoChunkingParam(Struct, tag="auto", tag_field="type"):
    pass


class StaticChunkingParam(Struct, tag="static", tag_field="type"):
    static: StaticChunking


ChunkingParam = AutoChunkingParam | StaticChunkingParam


class ExpiresAfter(Struct, kw_only=True):
    anchor: Literal["last_active_at"]
    days: Annotated[int, Meta(ge=1, le=365)]


# ---------------------------------------------------------------- OpenAI's objects


class FileCounts(Struct, kw_only=True):
    in_progress: int = 0
    completed: int = 0
    failed: int = 0
    cancelled: int = 0
    total: int = 0


class VectorStoreObject(Struct, kw_only=True, omit_defaults=True, tag="vector_store", tag_field="object"):
    """`expires_after` and `expires_at` are left out for a store that never expires."""

    id: str
    created_at: int
    name: str
    usage_bytes: int
    file_counts: FileCounts
    status: Literal["expired", "in_progress", "completed"]
    last_active_at: int | None
    metadata: dict[str, str]
    expires_after: ExpiresAfter | None = None
    expires_at: int | None = None


class VectorStoreList(Struct, kw_only=True, tag="list", tag_field="object"):
    data: list[VectorStoreObject]
    first_id: str | None
    last_id: str | None
    has_more: bool


class VectorStoreDeleted(Struct, kw_only=True, tag="vector_store.deleted", tag_field="object"):
    id: str
    deleted: bool = True


class LastError(Struct, kw_only=True):
    code: Literal["server_error", "unsupported_file", "invalid_file"]
    message: str


class VectorStoreFileObject(Struct, kw_only=True, tag="vector_store.file", tag_field="object"):
    id: str
    usage_bytes: int
    created_at: int
    vector_store_id: str
    status: FileStatus
    last_error: LastError | None
    chunking_strategy: StaticChunkingParam
    attributes: dict[str, str | int | float | bool] | None = None


class VectorStoreFileList(Struct, kw_only=True, tag="list", tag_field="object"):
    data: list[VectorStoreFileObject]
    first_id: str | None
    last_id: str | None
    has_more: bool


class VectorStoreFileDeleted(Struct, kw_only=True, tag="vector_store.file.deleted", tag_field="object"):
    id: str
    deleted: bool = True


class VectorStoreFileBatchObject(Struct, kw_only=True, tag="vector_store.files_batch", tag_field="object"):
    id: str
    created_at: int
    vector_store_id: str
    status: Literal["in_progress", "completed", "cancelled", "failed"]
    file_counts: FileCounts


class ContentPart(Struct, kw_only=True):
    type: Literal["text"] = "text"
    text: str


class VectorStoreFileContent(Struct, kw_only=True, tag="vector_store.file_content.page", tag_field="object"):
    data: list[ContentPart]
    has_more: bool = False
    next_page: str | None = None


class SearchResult(Struct, kw_only=True):
    file_id: str
    filename: str
    score: float
    attributes: dict[str, str | int | float | bool] | None
    content: list[ContentPart]


class SearchResultsPage(Struct, kw_only=True, tag="vector_store.search_results.page", tag_field="object"):
    search_query: list[str]
    data: list[SearchResult]
    has_more: bool = False
    next_page: str | None = None


# ---------------------------------------------------------------- filters


class Filter(Struct, kw_only=True):
    """Either a comparison (`type` eq … nin, `key`, `value`) or a compound (`type` and/or,
    `filters`). msgspec cannot tag a union by several values, so one struct holds both."""

    type: Literal["eq", "ne", "gt", "gte", "lt", "lte", "in", "nin", "and", "or"]
    key: str | None = None
    value: str | float | bool | list[str | float] | None = None
    filters: list["Filter"] | None = None


class RankingOptions(Struct, kw_only=True):
    ranker: Literal["none", "auto", "default-2024-11-15"] = "auto"
    score_threshold: Annotated[float, Meta(ge=0, le=1)] = 0.0


# ---------------------------------------------------------------- requests


class VectorStoreCreateRequest(Struct, kw_only=True):
    name: str | None = None
    description: str | None = None
    file_ids: Annotated[list[str], Meta(max_length=500)] | None = None
    chunking_strategy: ChunkingParam | None = None
    expires_after: ExpiresAfter | None = None
    metadata: Metadata | None = None


class VectorStoreUpdateRequest(Struct, kw_only=True):
    name: str | None | UnsetType = UNSET
    expires_after: ExpiresAfter | None | UnsetType = UNSET
    metadata: Metadata | None | UnsetType = UNSET


class VectorStoreUpdate(Struct, kw_only=True):
    vector_store_id: str
    change: VectorStoreUpdateRequest


class VectorStoreListQuery(Struct, kw_only=True, omit_defaults=True):
    after: str | None = None
    before: str | None = None
    limit: Limit = 20
    order: Order = "desc"


class FileCreateRequest(Struct, kw_only=True):
    file_id: str
    chunking_strategy: ChunkingParam | None = None
    attributes: Attributes | None = None


class FileCreate(Struct, kw_only=True):
    vector_store_id: str
    file: FileCreateRequest


class FileRef(Struct, kw_only=True):
    vector_store_id: str
    file_id: str


class FileAttributesRequest(Struct, kw_only=True):
    attributes: Attributes | None


class FileAttributesUpdate(Struct, kw_only=True):
    vector_store_id: str
    file_id: str
    attributes: Attributes | None


class FileListQuery(Struct, kw_only=True, omit_defaults=True):
    vector_store_id: str
    batch_id: str | None = None  # GET …/file_batches/{batch_id}/files
    after: str | None = None
    before: str | None = None
    limit: Limit = 20
    order: Order = "desc"
    filter: FileStatus | None = None


class BatchCreateRequest(Struct, kw_only=True):
    file_ids: Annotated[list[str], Meta(min_length=1, max_length=2000)] | None = None
    files: Annotated[list[FileCreateRequest], Meta(min_length=1, max_length=2000)] | None = None
    chunking_strategy: ChunkingParam | None = None
    attributes: Attributes | None = None


class BatchCreate(Struct, kw_only=True):
    vector_store_id: str
    batch: BatchCreateRequest


class BatchRef(Struct, kw_only=True):
    vector_store_id: str
    batch_id: str


class SearchRequest(Struct, kw_only=True):
    query: str | Annotated[list[str], Meta(min_length=1)]
    rewrite_query: bool = False
    max_num_results: Annotated[int, Meta(ge=1, le=50)] = 10
    filters: Filter | None = None
    ranking_options: RankingOptions | None = None


class Search(Struct, kw_only=True):
    vector_store_id: str
    search: SearchRequest


# ---------------------------------------------------------------- durable work


class IngestTask(Struct, kw_only=True):
    """One file of a store to ingest (JetStream): the record says everything else. `seq` tells this
    record from a later one of the same file (removed and added again)."""

    vector_store_id: str
    file_id: str
    seq: str
