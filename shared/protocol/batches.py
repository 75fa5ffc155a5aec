"""`/v1/batches`: OpenAI's Batch objects, the requests, and the jobs service's own tasks.

Timestamps that have not happened yet are left out rather than sent as null (the `Batch` schema
says integer), as `FileObject.expires_at` is.
"""

from typing import Annotated, Literal

import msgspec
from msgspec import Meta, Struct

from shared.protocol.files import ExpiresAfter
from shared.protocol.metadata import Metadata

# What a batch may run (of OpenAI's list, the endpoints Vivian serves).
BatchEndpoint = Literal["/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/moderations"]
BatchStatus = Literal["validating", "failed", "in_progress", "finalizing", "completed", "expired", "cancelling",
                      "cancelled"]

# ---------------------------------------------------------------- OpenAI's objects


class BatchError(Struct, kw_only=True):
    code: str
    message: str
    param: str | None = None
    line: int | None = None


class BatchErrors(Struct, kw_only=True, tag="list", tag_field="object"):
    data: list[BatchError]


class BatchRequestCounts(Struct, kw_only=True):
    total: int
    completed: int
    failed: int


class InputTokensDetails(Struct, kw_only=True):
    cached_tokens: int = 0


class OutputTokensDetails(Struct, kw_only=True):
    reasoning_tokens: int = 0


class BatchUsage(Struct, kw_only=True):
    input_tokens: int
    input_tokens_details: InputTokensDetails
    output_tokens: int
    output_tokens_details: OutputTokensDetails
    total_tokens: int


class Batch(Struct, kw_only=True, omit_defaults=True, tag="batch", tag_field="object"):
    id: str
    endpoint: str
    input_file_id: str
    completion_window: str
    status: BatchStatus
    created_at: int
    model: str | None = None
    errors: BatchErrors | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    in_progress_at: int | None = None
    expires_at: int | None = None
    finalizing_at: int | None = None
    completed_at: int | None = None
    failed_at: int | None = None
    expired_at: int | None = None
    cancelling_at: int | None = None
    cancelled_at: int | None = None
    request_counts: BatchRequestCounts | None = None
    usage: BatchUsage | None = None
    metadata: dict[str, str] | None = None


class BatchList(Struct, kw_only=True, tag="list", tag_field="object"):
    data: list[Batch]
    first_id: str | None
    last_id: str | None
    has_more: bool


# ---------------------------------------------------------------- the lines of a batch's files


class InputLine(Struct, kw_only=True):
    """One line of a batch's input file (OpenAI's "request input" format)."""

    custom_id: str
    method: str
    url: str
    body: msgspec.Raw


class LineResponse(Struct, kw_only=True):
    status_code: int
    request_id: str
    body: msgspec.Raw


class LineError(Struct, kw_only=True):
    code: str
    message: str


class OutputLine(Struct, kw_only=True):
    """One line of a batch's output or error file (OpenAI's "request output" format)."""

    id: str
    custom_id: str | None
    response: LineResponse | None
    error: LineError | None


# ---------------------------------------------------------------- requests


class BatchCreateRequest(Struct, kw_only=True):
    input_file_id: str
    endpoint: BatchEndpoint
    completion_window: Literal["24h"]
    metadata: Metadata | None = None
    output_expires_after: ExpiresAfter | None = None


class BatchListQuery(Struct, kw_only=True, omit_defaults=True):
    """`GET /v1/batches` query parameters."""

    after: str | None = None
    limit: Annotated[int, Meta(ge=1, le=100)] = 20


# ---------------------------------------------------------------- the jobs service's tasks (JetStream)


class BatchTask(Struct, kw_only=True):
    """`validate` and `finalize`: a step of one whole batch."""

    batch_id: str


class ChunkTask(Struct, kw_only=True):
    """`chunk`: lines [first, first + count) of a batch (counting request lines, not blank ones),
    which are the input file's bytes [start, end)."""

    batch_id: str
    index: int
    start: int
    end: int
