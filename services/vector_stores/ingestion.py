"""Ingestion as durable work: each file added to a store is a JetStream task (`ingest`) that fetches
the file's bytes through the files service, parses them, chunks the text, embeds each chunk (a long
one as several windows) through the embeddings service, and writes the vectors to the index.

Every step can run again without harm: point ids come from (store, file, chunk, part), so a task
redelivered after a crash (kill -9 included) rewrites the same points. Each start is counted in the
file's record; after `ingest_attempts` the file ends `failed` (`server_error`), so a file always
ends `completed` or `failed`, never stuck `in_progress`. A file removed or cancelled while it was
being ingested finds its record changed at the end and removes what it wrote (its version of the
file's points only: the file may have been added again since).
"""

import asyncio
import logging

import msgspec

from services.kit.tasks import Queue, Worker
from services.vector_stores import parsing
from services.vector_stores.chunking import Static
from services.vector_stores.context import Context
from services.vector_stores.embedding import embed
from services.vector_stores.index import IndexPoint
from services.vector_stores.tables import FileRecord
from shared import errors, subjects
from shared.protocol.vector_stores import IngestTask, LastError

log = logging.getLogger("vector_stores")
QUEUE = Queue(subjects.VECTOR_STORES_STREAM, subjects.VECTOR_STORES_TASKS)
KIND = "ingest"
UPSERT_BATCH = 256
_task = msgspec.json.Decoder(IngestTask).decode


async def queue(ctx: Context, record: FileRecord) -> None:
    task = IngestTask(vector_store_id=record.vector_store_id, file_id=record.file_id, seq=record.seq)
    await QUEUE.publish(ctx.js, KIND, "file", task, msg_id=f"{record.id}/{record.seq}")


async def start(ctx: Context) -> Worker:
    await QUEUE.ensure_stream(ctx.js)

    async def handle(step: str, data: bytes) -> None:
        await ingest(ctx, _task(data))

    worker = Worker(ctx.js, QUEUE, KIND, handle, concurrency=ctx.settings.ingest_workers,
                    ack_wait=ctx.settings.ack_wait)
    await worker.start()
    return worker


def _mine(task: IngestTask) -> dict:
    """The file's record as the task knows it, still being ingested."""
    return {"_id": f"{task.vector_store_id}/{task.file_id}", "seq": task.seq, "status": "in_progress"}


async def ingest(ctx: Context, task: IngestTask) -> None:
    record = await ctx.tables.files.update(_mine(task), {}, inc={"attempts": 1})
    if record is None:  # removed, cancelled, or ended already
        return
    if record.attempts > ctx.settings.ingest_attempts:
        await _end(ctx, task, LastError(code="server_error", message=(
            f"Ingestion did not finish in {ctx.settings.ingest_attempts} attempts.")))
        return
    log.info("ingesting %s into %s (attempt %d)", task.file_id, task.vector_store_id, record.attempts)
    try:
        chunks, points = await _points(ctx, record)
    except (parsing.UnsupportedFile, parsing.InvalidFile) as err:
        await _end(ctx, task, LastError(code=err.code, message=str(err)))
        return
    except errors.ApiError as err:
        if err.status != 404:
            raise  # retried: a service that is down, a timeout
        await _end(ctx, task, LastError(code="invalid_file", message=f"The file {task.file_id} no longer exists."))
        return
    for start in range(0, len(points), UPSERT_BATCH):
        await ctx.index.upsert(points[start:start + UPSERT_BATCH])
    usage = sum(len(chunk.encode()) for chunk in chunks) + 4 * ctx.settings.embedding_dimensions * len(points)
    if await ctx.tables.files.update(_mine(task), {"status": "completed", "usage_bytes": usage}) is None:
        await ctx.index.delete(task.vector_store_id, file_id=task.file_id, version=task.seq)  # removed or cancelled meanwhile
        return
    log.info("ingested %s into %s: %d chunks, %d vectors", task.file_id, task.vector_store_id, len(chunks),
             len(points))


async def _points(ctx: Context, record: FileRecord) -> tuple[list[str], list[IndexPoint]]:
    request_id = f"ingest-{record.vector_store_id}-{record.file_id}"
    data = bytearray()
    async for piece in ctx.files.chunks(record.file_id, project=record.project, request_id=request_id):
        data += piece
        if len(data) > ctx.settings.max_file_bytes:
            raise parsing.InvalidFile(f"The file is larger than {ctx.settings.max_file_bytes} bytes.")
    text = await asyncio.to_thread(parsing.parse, bytes(data), record.filename)
    windows = await asyncio.to_thread(_windows, ctx, text, Static(record.chunk_size, record.chunk_overlap))
    chunks = [chunk for chunk, _ in windows]
    flat = [(index, part, piece) for index, (_, pieces) in enumerate(windows) for part, piece in enumerate(pieces)]
    vectors = await embed(ctx, [piece for _, _, piece in flat], project=record.project, request_id=request_id)
    return chunks, [IndexPoint(store_id=record.vector_store_id, file_id=record.file_id, chunk_index=index, part=part,
                               text=chunks[index], vector=vector, version=record.seq)
                    for (index, part, _), vector in zip(flat, vectors)]


def _windows(ctx: Context, text: str, strategy: Static) -> list[tuple[str, list[str]]]:
    """Each chunk, and the pieces of it that are embedded (one, or several for a long chunk)."""
    size = ctx.settings.embedding_window_tokens
    return [(chunk, ctx.chunker.windows(chunk, size)) for chunk in ctx.chunker.chunks(text, strategy)]


async def _end(ctx: Context, task: IngestTask, error: LastError) -> None:
    log.warning("ingesting %s into %s failed: %s", task.file_id, task.vector_store_id, error.message)
    if await ctx.tables.files.update(_mine(task), {"status": "failed",
                                                  "last_error": msgspec.to_builtins(error)}) is not None:
        await ctx.index.delete(task.vector_store_id, file_id=task.file_id, version=task.seq)
