"""Running a fine-tuning job: one JetStream task per job (kind `fine_tuning`), taken by any replica.

The task reads the training file through the files service, checks it, then trains in a child
process (`train.py`) while this event loop keeps the service, the task's in-progress acks and the
job's records alive. A cancel (the record turns `cancelled`) or a pause (`paused`) kills the child
within a second; a resume queues the task again, which trains on from the last checkpoint. When
the replica stops or dies the task goes to another (or the restarted) replica, which resumes from
the last checkpoint on disk; after `fine_tuning_max_attempts` starts the job fails with a clear error.
The tuned model is published where every chat replica finds it (see `publish.py`).
"""

import asyncio
import base64
import ctypes
import logging
import math
import os
import signal
import sys
import time
from pathlib import Path

import msgspec

from services.jobs import tasks
from services.jobs.context import Context
from services.jobs.fine_tuning import dataset, publish
from services.jobs.fine_tuning.tables import TERMINAL, CheckpointRecord, JobRecord, Tables
from services.jobs.fine_tuning.train import Event, Spec
from services.kit.tables import sequence
from shared import errors, model_parts, modelconfig

log = logging.getLogger("jobs")
KIND = "fine_tuning"
BASE_LEARNING_RATE = 1e-3  # LoRA's learning rate at `learning_rate_multiplier` 1
_event = msgspec.json.Decoder(Event).decode
CSV_HEADER = "step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy\n"


class Job(msgspec.Struct):
    id: str


async def queue(ctx: Context, job_id: str, *, resumed: int = 0) -> None:
    """The job's task; `resumed`: the how-manyth resume after a pause (a task of its own, not one
    JetStream drops as a duplicate of the first)."""
    await tasks.publish(ctx.js, KIND, "run", Job(id=job_id), msg_id=f"ft-{job_id}" + (f"-{resumed}" if resumed else ""))


async def start(ctx: Context) -> tasks.Worker:
    async def handle(step: str, data: bytes) -> None:
        await run(ctx, msgspec.json.decode(data, type=Job).id)

    worker = tasks.Worker(ctx.js, KIND, handle, concurrency=ctx.settings.fine_tuning_workers,
                          ack_wait=ctx.settings.ack_wait)
    await worker.start()
    return worker


def work_dir(ctx: Context, job_id: str) -> Path:
    root = ctx.settings.fine_tuning_dir or os.path.expanduser("~/.vivian/fine_tuning")
    return Path(root) / job_id


def resolve(hp: dict, examples: int) -> dict:
    """OpenAI's "auto": epochs so that about 100 examples are seen (3 for big files), at most 25."""
    n_epochs = hp["n_epochs"]
    if n_epochs == "auto":
        n_epochs = 3 if examples * 3 >= 100 else min(25, math.ceil(100 / examples))
    batch_size = hp["batch_size"]
    if batch_size == "auto":
        batch_size = min(examples, max(4, math.ceil(examples * 0.002)), 256)
    multiplier = hp["learning_rate_multiplier"]
    if multiplier == "auto":
        multiplier = 1.0
    return {"n_epochs": int(n_epochs), "batch_size": int(batch_size), "learning_rate_multiplier": float(multiplier)}


def model_name(job: JobRecord) -> str:
    return f"ft:{job.model}:{job.project or 'vivian'}:{job.suffix or ''}:{job.id.removeprefix('ftjob-')}"


async def _download(ctx: Context, job: JobRecord, file_id: str, path: Path) -> None:
    if path.exists():
        return
    partial = path.with_suffix(".partial")
    with open(partial, "wb") as out:
        async for _, line in ctx.files.lines(file_id, project=job.project, request_id=job.id):
            out.write(line + b"\n")
    os.replace(partial, path)


async def _fail(tables: Tables, job: JobRecord, code: str, message: str, param: str | None = None) -> None:
    updated = await tables.jobs.update({"_id": job.id, "status": {"$in": ["validating_files", "queued", "running"]}},
                                       {"status": "failed", "finished_at": int(time.time()),
                                        "error": {"code": code, "message": message, "param": param}})
    if updated is not None:
        await tables.event(job.id, message, level="error", key="failed")


async def run(ctx: Context, job_id: str) -> None:
    tables = Tables(ctx.store)
    job = await tables.jobs.get({"_id": job_id})
    if job is None or job.status in TERMINAL:
        return
    folder = work_dir(ctx, job.id)
    folder.mkdir(parents=True, exist_ok=True)
    training = folder / "training.jsonl"
    validation = folder / "validation.jsonl" if job.validation_file else None
    if not await _fetch(ctx, tables, job, training, validation):
        return
    if job.status == "validating_files":
        job = await _validate(ctx, tables, job, training, validation)
        if job is None:
            return
    job = await tables.jobs.update({"_id": job.id, "status": {"$in": ["queued", "running"]}}, {"status": "running"},
                                   inc={"attempts": 1})
    if job is None:
        return  # cancelled or paused meanwhile
    if job.attempts > ctx.settings.fine_tuning_max_attempts:
        await _fail(tables, job, "training_interrupted", f"Training was interrupted {job.attempts - 1} times "
                    "(the jobs service stopped or crashed while it ran); it was not retried again.")
        return
    if job.attempts > 1:
        await tables.event(job.id, "The jobs service restarted; resuming training from the last checkpoint.",
                           key=f"resumed-{job.attempts}")
    await _train(ctx, tables, job, folder, training, validation)


async def _fetch(ctx: Context, tables: Tables, job: JobRecord, training: Path, validation: Path | None) -> bool:
    """The job's files on local disk (read once, kept for a resume); False when one cannot be read."""
    for file_id, path, param in ((job.training_file, training, "training_file"),
                                 (job.validation_file, validation, "validation_file")):
        if path is None:
            continue
        try:
            await _download(ctx, job, file_id, path)
        except errors.ApiError as err:
            if err.status >= 500:
                raise  # the files service or the store is down: the task is retried
            await _fail(tables, job, f"invalid_{param}", f"The file {file_id} could not be read: {err.message}",
                        param)
            return False
    return True


async def _validate(ctx: Context, tables: Tables, job: JobRecord, training: Path,
                    validation: Path | None) -> JobRecord | None:
    await tables.event(job.id, "Validating training file: " + job.training_file, key="validating")
    loop = asyncio.get_running_loop()

    def count(path: Path, minimum: int) -> int:
        with open(path, "rb") as f:
            return len(dataset.examples(f, minimum=minimum))

    try:
        examples = await loop.run_in_executor(None, count, training, dataset.MIN_EXAMPLES)
    except dataset.InvalidFile as err:
        await _fail(tables, job, "invalid_training_file",
                    f"The job failed due to an invalid training file. {err}", "training_file")
        return None
    if validation is not None:
        try:
            await loop.run_in_executor(None, count, validation, 1)
        except dataset.InvalidFile as err:
            await _fail(tables, job, "invalid_validation_file",
                        f"The job failed due to an invalid validation file. {err}", "validation_file")
            return None
    hp = resolve(job.hyperparameters, examples)
    updated = await tables.jobs.update({"_id": job.id, "status": "validating_files"},
                                       {"status": "running", "hyperparameters": hp})
    if updated is not None:
        await tables.event(job.id, "Files validated, moving job to queued state", key="validated")
        await tables.event(job.id, "Fine-tuning job started", key="started")
    return updated


def _die_with_parent() -> None:
    """In the child: the kernel kills it when the jobs service dies, even by kill -9."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


async def _train(ctx: Context, tables: Tables, job: JobRecord, folder: Path, training: Path,
                 validation: Path | None) -> None:
    entry = _base(ctx, job)
    if entry is None:
        await _fail(tables, job, "model_not_available", f"The base model {job.base} is no longer a local model "
                    "in this service's model config.", "model")
        return
    hp = job.hyperparameters
    if entry.parts:  # a base model shipped in pieces: joined once (the chat service has usually done it)
        await asyncio.to_thread(model_parts.joined, entry.path, entry.parts, entry.sha256)
    spec = Spec(base_gguf=entry.path, training_file=str(training),
                validation_file=str(validation) if validation else None, out_dir=str(folder / "out"),
                n_epochs=hp["n_epochs"], batch_size=hp["batch_size"],
                learning_rate=BASE_LEARNING_RATE * hp["learning_rate_multiplier"], seed=job.seed,
                threads=ctx.settings.fine_tuning_threads)
    (folder / "spec.json").write_bytes(msgspec.json.encode(spec))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.jobs.fine_tuning.train", str(folder / "spec.json"),
        stdout=asyncio.subprocess.PIPE, stderr=open(folder / "train.log", "ab"), preexec_fn=_die_with_parent,
        cwd=str(Path(__file__).resolve().parents[3]), limit=1 << 20)
    watch = asyncio.create_task(_watch_cancel(tables, job, proc))
    done: Event | None = None
    try:
        async for line in proc.stdout:
            event = _event(line)
            if event.event == "done":
                done = event
            else:
                await _record(tables, job, event, folder)
        rc = await proc.wait()
    finally:
        watch.cancel()
        if proc.returncode is None:  # this replica is stopping: the task goes back, the job resumes
            proc.kill()
            await proc.wait()
    current = await tables.jobs.get({"_id": job.id})
    if current is None or current.status != "running" or current.pauses != job.pauses:
        return  # cancelled or paused: the child was killed on purpose
    if rc != 0 or done is None:
        tail = (folder / "train.log").read_text(errors="replace").strip().splitlines()[-1:] or [""]
        log.error("job %s: training exited with %s: %s", job.id, rc, tail[0])
        await _fail(tables, job, "training_failed", "Training failed; see the jobs service's log for "
                    f"job {job.id} (exit status {rc}).")
        return
    await _succeed(ctx, tables, job, folder, done)


def _base(ctx: Context, job: JobRecord) -> modelconfig.LocalModel | None:
    config = modelconfig.load(ctx.settings.models or None)
    return next((e for e in config.models if e.id == job.base and isinstance(e, modelconfig.LocalModel)), None)


async def _watch_cancel(tables: Tables, job: JobRecord, proc: asyncio.subprocess.Process) -> None:
    """Kills the child once the job is cancelled or paused (also when it was paused and already
    resumed: the resumed run is another task's)."""
    while proc.returncode is None:
        await asyncio.sleep(1.0)
        current = await tables.jobs.get({"_id": job.id})
        if current is None or current.status != "running" or current.pauses != job.pauses:
            proc.kill()
            return


async def _record(tables: Tables, job: JobRecord, event: Event, folder: Path) -> None:
    if event.event == "step":
        data = {"step": event.step, "train_loss": event.train_loss, "total_steps": event.total_steps,
                "train_mean_token_accuracy": event.train_accuracy}
        message = f"Step {event.step}/{event.total_steps}: training loss={event.train_loss:.4f}"
        if event.valid_loss is not None:
            data |= {"valid_loss": event.valid_loss, "valid_mean_token_accuracy": event.valid_accuracy}
            message += f", validation loss={event.valid_loss:.4f}"
        await tables.event(job.id, message, type="metrics", data=data, key=f"step-{event.step}")
        with open(folder / "metrics.csv", "a") as f:  # rows of a resumed run's steps come again: last wins
            f.write(",".join(_cell(v) for v in (event.step, event.train_loss, event.train_accuracy,
                                                 event.valid_loss, event.valid_accuracy)) + "\n")
    elif event.event == "checkpoint":
        now = time.time_ns()
        checkpoint_id = f"ftckpt_{job.id.removeprefix('ftjob-')}{event.step}"
        metrics = await tables.events.get({"_id": f"ftevent-{job.id.removeprefix('ftjob-')}-step-{event.step}"})
        values = dict(metrics.data or {}) if metrics else {}
        values.pop("total_steps", None)
        record = CheckpointRecord(id=checkpoint_id, job=job.id, seq=sequence(event.step, checkpoint_id),
                                  created_at=now // 10**9, model=f"{model_name(job)}:ckpt-step-{event.step}",
                                  step=event.step, metrics={**values, "step": float(event.step)})
        await tables.checkpoints.collection.replace_one({"_id": checkpoint_id}, msgspec.to_builtins(record),
                                                        upsert=True)
        await tables.event(job.id, f"Checkpoint created at step {event.step}", key=f"ckpt-{event.step}")
    elif event.event == "loaded" and event.step:
        await tables.event(job.id, f"Resumed from the checkpoint at step {event.step} of {event.total_steps}.",
                           key=f"loaded-{event.step}")


def _cell(value) -> str:
    return "" if value is None else (str(value) if isinstance(value, int) else f"{value:.6f}")


def results_csv(folder: Path) -> bytes:
    rows: dict[int, str] = {}
    path = folder / "metrics.csv"
    if path.exists():
        for line in path.read_text().splitlines():
            rows[int(line.split(",", 1)[0])] = line
    return (CSV_HEADER + "".join(rows[step] + "\n" for step in sorted(rows))).encode()


async def _succeed(ctx: Context, tables: Tables, job: JobRecord, folder: Path, done: Event) -> None:
    name = model_name(job)
    # As OpenAI does, the results file holds the CSV base64-encoded.
    writer = ctx.files.writer(project=job.project, purpose="fine-tune-results", filename="step_metrics.csv",
                              request_id=job.id)
    try:
        await writer.write(base64.b64encode(results_csv(folder)))
        results = await writer.commit()
    except BaseException:
        await writer.abort()
        raise
    await publish.model(ctx, job, name=name, adapter=Path(done.path))
    updated = await tables.jobs.update({"_id": job.id, "status": "running"},
                                       {"status": "succeeded", "finished_at": int(time.time()),
                                        "fine_tuned_model": name, "trained_tokens": done.trained_tokens,
                                        "result_files": [results.id] if results else []})
    if updated is None:
        await publish.withdraw(ctx, job.id)  # cancelled in the last moment
        return
    await tables.event(job.id, f"New fine-tuned model created: {name}", key="model")
    await tables.event(job.id, "The job has successfully completed", key="succeeded")
