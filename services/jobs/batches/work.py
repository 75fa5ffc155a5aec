"""A batch's durable work: JetStream tasks of kind `batches`, run by any replica.

- `validate` (one per batch): reads the input file as a stream, checks every line, and either
  fails the batch with the bad lines listed or queues one `chunk` task per `batch_chunk_lines`
  lines (a byte range of the input file) and marks it `in_progress`.
- `chunk`: reads its byte range, runs its lines (bounded per chunk and per model), and writes the
  chunk's record (see batch_records.py); the last chunk to finish queues `finalize`.
- `finalize` (one per batch, also queued by a cancel or an expiry): reads the input again and, in
  input order, streams each line's result into the output file (`batch_output`) or the error file,
  reporting lines a stopped batch never ran as `batch_cancelled` / `batch_expired`; then ends the batch.

Every step may run again after a crash and gives the same result: task ids dedupe republished
tasks, chunk records are written once, and the finalizer recounts everything from them.
"""

import asyncio
import contextlib
import logging
import time

import msgspec
from pymongo.errors import DuplicateKeyError

from services.jobs import tasks
from services.jobs.batches import lines as batch_lines
from services.jobs.batches.tables import ENDED, RUNNING, BatchRecord, BatchTables, ChunkRecord, LineResult, chunk_id
from services.jobs.context import Context
from services.kit.files_client import FileWriter
from shared import errors
from shared.protocol.batches import BatchError, BatchTask, ChunkTask

log = logging.getLogger("jobs")

KIND = "batches"
STOP_POLL = 1.0  # seconds between looks for a cancel or an expiry while a chunk runs
REQUEUE_AFTER = 30  # seconds a batch may stay `validating` before its validation is queued again
_batch_task = msgspec.json.Decoder(BatchTask).decode
_chunk_task = msgspec.json.Decoder(ChunkTask).decode
STOPPED = {"cancel": ("batch_cancelled", "This request was not executed because the batch was cancelled."),
           "expire": ("batch_expired", "This request could not be executed before the completion window expired.")}


async def queue(ctx: Context, step: str, batch_id: str) -> None:
    await tasks.publish(ctx.js, KIND, step, BatchTask(batch_id=batch_id), msg_id=f"{batch_id}.{step}")


class BatchWork:
    def __init__(self, ctx: Context, tables: BatchTables) -> None:
        self._ctx, self._tables = ctx, tables
        self._models: dict[str, asyncio.Semaphore] = {}  # lines in flight per model, in this replica

    async def handle(self, step: str, data: bytes) -> None:
        if step not in ("validate", "chunk", "finalize"):
            log.warning("dropped a batches task of unknown step %r", step)
            return
        task = _chunk_task(data) if step == "chunk" else _batch_task(data)
        try:
            match step:
                case "validate":
                    await self._validate(task.batch_id)
                case "chunk":
                    await self._chunk(task)
                case "finalize":
                    await self._finalize(task.batch_id)
        except errors.ApiError as err:
            if err.status != 404:
                raise  # a store or a service having trouble: the task is retried
            await self._input_gone(task.batch_id)

    async def _input_gone(self, batch_id: str) -> None:
        """The input file was deleted under a running batch: it fails (retrying cannot help)."""
        batch = await self._tables.batches.update({"_id": batch_id, "status": {"$nin": list(ENDED)}}, {
            "status": "failed", "failed_at": int(time.time()), "errors": [msgspec.to_builtins(BatchError(
                code="file_not_found", param="input_file_id",
                message="The input file was deleted while the batch ran."))]})
        if batch is not None:
            log.info("batch %s failed: its input file %s is gone", batch_id, batch.input_file_id)
            await self._tables.chunks.delete({"batch_id": batch_id})

    async def _get(self, batch_id: str) -> BatchRecord | None:
        return await self._tables.batches.get({"_id": batch_id})

    # ------------------------------------------------------------ validate

    async def _validate(self, batch_id: str) -> None:
        batch = await self._get(batch_id)
        # `in_progress` but not `queued`: a replica died while queueing its chunks; queue them again.
        if batch is None or batch.stop or batch.queued or batch.status not in RUNNING:
            return
        scan = batch_lines.Scan(endpoint=batch.endpoint, chunk_lines=self._ctx.settings.batch_chunk_lines)
        async for offset, raw in self._ctx.files.lines(batch.input_file_id, project=batch.project,
                                                      request_id=batch_id):
            scan.feed(offset, raw)
        now = int(time.time())
        if scan.errors:
            await self._tables.batches.update({"_id": batch_id, "status": "validating"}, {
                "status": "failed", "failed_at": now, "errors": msgspec.to_builtins(scan.errors),
                "total": scan.requests, "failed": 0})
            log.info("batch %s failed validation: %d bad lines", batch_id, scan.bad)
            return
        # In progress before the first chunk is queued, so a fast last chunk finds it so.
        await self._tables.batches.update({"_id": batch_id, "status": "validating"}, {
            "status": "in_progress", "in_progress_at": now, "model": scan.model or "", "total": scan.requests,
            "chunks": len(scan.starts), "chunk_lines": self._ctx.settings.batch_chunk_lines})
        for index, (start, end) in enumerate(scan.ranges()):
            await tasks.publish(self._ctx.js, KIND, "chunk", ChunkTask(batch_id=batch_id, index=index, start=start,
                                                                      end=end), msg_id=chunk_id(batch_id, index))
        await self._tables.batches.update({"_id": batch_id}, {"queued": True})
        log.info("batch %s: %d lines in %d chunks queued", batch_id, scan.requests, len(scan.starts))

    # ------------------------------------------------------------ chunk

    async def _chunk(self, task: ChunkTask) -> None:
        batch = await self._get(task.batch_id)
        if batch is None or batch.status in ENDED or batch.stop:
            return  # a stopped batch's finalizer reports the lines never run
        record_id = chunk_id(task.batch_id, task.index)
        if await self._tables.chunks.get({"_id": record_id}) is not None:
            return await self._maybe_finalize(batch)
        lines = [raw async for _, raw in self._ctx.files.lines(batch.input_file_id, project=batch.project,
                                                              request_id=record_id, start=task.start, end=task.end)
                 if raw.strip()]
        results = await self._run_lines(batch, lines)
        record = ChunkRecord(id=record_id, batch_id=batch.id, index=task.index,
                             results=[LineResult(pos=pos, ok=ran.ok, line=ran.line) for pos, ran in results.items()])
        for ran in results.values():
            record.completed += ran.ok
            record.failed += not ran.ok
            if ran.usage is not None:
                record.input_tokens += ran.usage.prompt_tokens
                record.output_tokens += ran.usage.completion_tokens
        try:
            await self._tables.chunks.insert(record)
        except DuplicateKeyError:
            return  # done by another delivery, or sealed by a finalizer: its lines count once, there
        current = await self._get(batch.id)
        if current is None or current.status in ENDED:
            # Ended (and its chunk records removed) while this chunk ran: nothing will read it.
            await self._tables.chunks.delete({"_id": record_id})
            return
        await self._tables.batches.update({"_id": batch.id}, {}, inc={
            "completed": record.completed, "failed": record.failed, "input_tokens": record.input_tokens,
            "output_tokens": record.output_tokens})
        log.info("batch %s chunk %d: %d lines done", batch.id, task.index, len(results))
        await self._maybe_finalize(batch)

    async def _maybe_finalize(self, batch: BatchRecord) -> None:
        done = await self._tables.chunks.collection.count_documents({"batch_id": batch.id})
        if batch.chunks and done >= batch.chunks:
            await queue(self._ctx, "finalize", batch.id)

    async def _run_lines(self, batch: BatchRecord, lines: list[bytes]) -> dict[int, batch_lines.Ran]:
        """Each line's result by its place in the chunk; on a stop (cancel, expiry), what finished."""
        settings = self._ctx.settings
        per_chunk = asyncio.Semaphore(settings.batch_line_concurrency)
        per_model = self._models.setdefault(batch.model, asyncio.Semaphore(settings.batch_model_concurrency))
        results: dict[int, batch_lines.Ran] = {}

        async def one(pos: int, raw: bytes) -> None:
            async with per_chunk, per_model:
                results[pos] = await batch_lines.run(self._ctx.nc, self._ctx.caller, raw, endpoint=batch.endpoint,
                                                     project=batch.project, idle_timeout=settings.call_idle_timeout,
                                                     timeout=settings.call_timeout)

        running = [asyncio.create_task(one(pos, raw)) for pos, raw in enumerate(lines)]
        everything = asyncio.gather(*running)
        try:
            while not everything.done():
                await asyncio.wait([everything], timeout=STOP_POLL)
                if not everything.done() and await self._stopping(batch.id):
                    log.info("batch %s stopping: chunk keeps %d of %d lines", batch.id, len(results), len(lines))
                    break
        finally:
            for task in running:
                task.cancel()
            with contextlib.suppress(BaseException):
                await everything
        return results

    async def _stopping(self, batch_id: str) -> bool:
        batch = await self._get(batch_id)
        return batch is None or bool(batch.stop) or batch.status in ENDED

    # ------------------------------------------------------------ finalize

    async def _finalize(self, batch_id: str) -> None:
        batch = await self._get(batch_id)
        if batch is None or batch.status in ENDED:
            return
        if batch.stop:
            await asyncio.sleep(self._ctx.settings.batch_stop_grace)  # running chunks save what they finished
        elif batch.status != "finalizing":
            batch = await self._tables.batches.update({"_id": batch_id, "status": "in_progress", "stop": ""},
                                                      {"status": "finalizing", "finalizing_at": int(time.time())})
            if batch is None:
                return  # stopped meanwhile: that stop queued its own finalize
        expiry = batch.output_expires_after
        files = self._ctx.files
        output = files.writer(project=batch.project, purpose="batch_output", filename=f"{batch_id}_output.jsonl",
                              request_id=batch_id, expires_after=expiry)
        failures = files.writer(project=batch.project, purpose="batch_output", filename=f"{batch_id}_error.jsonl",
                                request_id=batch_id, expires_after=expiry)
        try:
            counts = await self._write(batch, output, failures)
            made_output, made_errors = await output.commit(), await failures.commit()
        except BaseException:
            await asyncio.shield(asyncio.gather(output.abort(), failures.abort()))
            raise
        now = int(time.time())
        values = {"output_file_id": made_output.id if made_output else "",
                  "error_file_id": made_errors.id if made_errors else "", **counts}
        match batch.stop:
            case "cancel":
                values |= {"status": "cancelled", "cancelled_at": now}
            case "expire":
                values |= {"status": "expired", "expired_at": now}
            case _:
                values |= {"status": "completed", "completed_at": now}
        await self._tables.batches.update({"_id": batch_id}, values)
        await self._tables.chunks.delete({"batch_id": batch_id})
        log.info("batch %s %s: %d completed, %d failed", batch_id, values["status"], counts["completed"],
                 counts["failed"])

    async def _write(self, batch: BatchRecord, output: FileWriter, failures: FileWriter) -> dict:
        per_chunk = batch.chunk_lines or self._ctx.settings.batch_chunk_lines
        counts = {"total": 0, "completed": 0, "failed": 0, "input_tokens": 0, "output_tokens": 0}
        index, results = -1, {}
        async for _, raw in self._ctx.files.lines(batch.input_file_id, project=batch.project, request_id=batch.id):
            if not raw.strip():
                continue
            position = counts["total"]
            counts["total"] += 1
            if position // per_chunk != index:
                index = position // per_chunk
                chunk = await self._chunk_or_seal(batch.id, index)
                results = {result.pos: result for result in chunk.results}
                counts["input_tokens"] += chunk.input_tokens
                counts["output_tokens"] += chunk.output_tokens
            result = results.get(position % per_chunk)
            if result is not None:
                counts["completed" if result.ok else "failed"] += 1
                await (output if result.ok else failures).write(result.line.encode() + b"\n")
                continue
            code, message = STOPPED.get(batch.stop, STOPPED["expire"])
            counts["failed"] += 1
            await failures.write(batch_lines.stopped(raw, code=code, message=message).encode() + b"\n")
        return counts

    async def _chunk_or_seal(self, batch_id: str, index: int) -> ChunkRecord:
        record_id = chunk_id(batch_id, index)
        try:
            sealed = ChunkRecord(id=record_id, batch_id=batch_id, index=index, sealed=True)
            await self._tables.chunks.insert(sealed)
            return sealed
        except DuplicateKeyError:
            return await self._tables.chunks.get({"_id": record_id})

    # ------------------------------------------------------------ expiry

    async def sweep(self) -> None:
        """Stop every running batch past its window (each replica sweeps; the claim makes one win),
        and queue again the validation of batches still `validating` a while after they were made:
        a replica may have died between writing a batch and queueing its task. (Within JetStream's
        duplicate window the task id drops the copy; a validation run twice does nothing twice.)"""
        now = int(time.time())
        for batch in await self._tables.batches.find({"status": {"$in": list(RUNNING)}, "expires_at": {"$lte": now},
                                                      "stop": ""}, limit=100):
            if await self._tables.batches.update({"_id": batch.id, "stop": ""}, {"stop": "expire"}) is not None:
                log.info("batch %s expired; finalizing with what is done", batch.id)
                await queue(self._ctx, "finalize", batch.id)
        for batch in await self._tables.batches.find({"status": "validating",
                                                      "created_at": {"$lte": now - REQUEUE_AFTER}}, limit=100):
            await queue(self._ctx, "validate", batch.id)
