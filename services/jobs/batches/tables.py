"""A batch's records: the batch itself (`batches`) and, while it runs, one record per finished
chunk of lines (`batch_chunks`), which holds those lines' output.

A chunk record is written once, whole, under a unique id (`<batch>.<index>`): the first writer
wins. A worker that finishes a chunk writes it; a finalizer that finds a chunk missing (the batch
was cancelled or expired) writes it empty, "sealed", so a worker still running that chunk loses
the race and its late lines are not counted twice. That one unique id is what makes every line
appear exactly once in the output, however many times its task was delivered.
"""

import msgspec

from services.kit.tables import Table
from shared.protocol.batches import (
    Batch,
    BatchError,
    BatchErrors,
    BatchRequestCounts,
    BatchUsage,
    InputTokensDetails,
    OutputTokensDetails,
)
from shared.protocol.files import ExpiresAfter

BATCHES, CHUNKS = "batches", "batch_chunks"
RUNNING = ("validating", "in_progress")
ENDED = ("failed", "completed", "expired", "cancelled")


class BatchRecord(msgspec.Struct, kw_only=True, rename={"id": "_id"}):
    id: str
    project: str
    seq: str
    endpoint: str
    input_file_id: str
    completion_window: str
    status: str
    created_at: int
    expires_at: int
    metadata: dict[str, str] | None = None
    output_expires_after: ExpiresAfter | None = None
    model: str = ""
    errors: list[BatchError] = []
    # 0: not yet (filters never compare with null, see records.py)
    in_progress_at: int = 0
    finalizing_at: int = 0
    completed_at: int = 0
    failed_at: int = 0
    expired_at: int = 0
    cancelling_at: int = 0
    cancelled_at: int = 0
    output_file_id: str = ""
    error_file_id: str = ""
    total: int = 0
    completed: int = 0
    failed: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    chunks: int = 0  # chunk tasks, known once validation is done
    chunk_lines: int = 0  # lines per chunk, as the validating replica cut them
    queued: bool = False  # every chunk task is queued
    stop: str = ""  # "cancel" or "expire": its lines stop and it finalizes with what is done


class LineResult(msgspec.Struct, kw_only=True, array_like=True):
    pos: int  # the line's place in its chunk
    ok: bool  # to the output file (else to the error file)
    line: str  # the output line, as written


class ChunkRecord(msgspec.Struct, kw_only=True, rename={"id": "_id"}):
    id: str
    batch_id: str
    index: int
    results: list[LineResult] = []
    sealed: bool = False  # written by a finalizer for a chunk nobody finished
    completed: int = 0
    failed: int = 0
    input_tokens: int = 0
    output_tokens: int = 0


def chunk_id(batch_id: str, index: int) -> str:
    return f"{batch_id}.{index:06d}"


def _at(value: int) -> int | None:
    return value or None


def batch_object(record: BatchRecord) -> Batch:
    usage = BatchUsage(input_tokens=record.input_tokens, input_tokens_details=InputTokensDetails(),
                       output_tokens=record.output_tokens, output_tokens_details=OutputTokensDetails(),
                       total_tokens=record.input_tokens + record.output_tokens)
    return Batch(
        id=record.id, endpoint=record.endpoint, input_file_id=record.input_file_id,
        completion_window=record.completion_window, status=record.status, created_at=record.created_at,
        model=record.model or None, errors=BatchErrors(data=record.errors) if record.errors else None,
        output_file_id=record.output_file_id or None, error_file_id=record.error_file_id or None,
        in_progress_at=_at(record.in_progress_at), expires_at=record.expires_at,
        finalizing_at=_at(record.finalizing_at), completed_at=_at(record.completed_at),
        failed_at=_at(record.failed_at), expired_at=_at(record.expired_at),
        cancelling_at=_at(record.cancelling_at), cancelled_at=_at(record.cancelled_at),
        request_counts=BatchRequestCounts(total=record.total, completed=record.completed, failed=record.failed),
        usage=usage, metadata=record.metadata)


class BatchTables:
    def __init__(self, batches: Table[BatchRecord], chunks: Table[ChunkRecord]) -> None:
        self.batches, self.chunks = batches, chunks

    async def ensure_indexes(self) -> None:
        # Index names are left to the server (nx-27017 does not keep custom ones).
        await self.batches.collection.create_index([("project", 1), ("seq", 1)])
        await self.batches.collection.create_index([("status", 1), ("expires_at", 1)])
        await self.chunks.collection.create_index([("batch_id", 1), ("index", 1)], unique=True)
