"""Fine-tuning records in MongoDB: jobs, their events and checkpoints, and how each becomes the
OpenAI object."""

import time

import msgspec

from services.kit.tables import Database, Table, new_id, sequence
from shared.protocol.fine_tuning import (
    CheckpointMetrics,
    FineTuningJob,
    FineTuningJobCheckpoint,
    FineTuningJobEvent,
    JobError,
    ResolvedHyperparameters,
    ResolvedMethod,
    ResolvedSupervised,
)

TERMINAL = ("succeeded", "failed", "cancelled")


class JobRecord(msgspec.Struct, kw_only=True, rename={"id": "_id"}):
    id: str
    project: str
    seq: str
    created_at: int
    status: str
    model: str  # as the client named it
    base: str  # the model config entry it resolves to
    training_file: str
    validation_file: str | None = None
    suffix: str | None = None
    seed: int
    metadata: dict[str, str] | None = None
    # As asked ("auto" or a number), then as resolved once the file is read.
    hyperparameters: dict
    fine_tuned_model: str | None = None
    finished_at: int | None = None
    trained_tokens: int | None = None
    result_files: list[str] = []
    error: dict | None = None
    attempts: int = 0  # times a replica started (or resumed) the training since it was created or resumed
    pauses: int = 0  # times it was paused (POST …/pause)
    # A job of an upstream model (`upstream.py`): its id there, the training files' ids there.
    upstream: str | None = None
    upstream_files: list[str] = []
    estimated_finish: int | None = None
    model_deleted: bool = False  # its tuned model was deleted (DELETE /v1/models/{model})


class EventRecord(msgspec.Struct, kw_only=True, rename={"id": "_id"}):
    id: str
    job: str
    seq: str
    created_at: int
    level: str
    message: str
    type: str = "message"
    data: dict | None = None


class CheckpointRecord(msgspec.Struct, kw_only=True, rename={"id": "_id"}):
    id: str
    job: str
    seq: str
    created_at: int
    model: str
    step: int
    metrics: dict


class Tables:
    def __init__(self, store: Database) -> None:
        self.jobs: Table[JobRecord] = store.table("fine_tuning_jobs", JobRecord)
        self.events: Table[EventRecord] = store.table("fine_tuning_events", EventRecord)
        self.checkpoints: Table[CheckpointRecord] = store.table("fine_tuning_checkpoints", CheckpointRecord)

    async def create_indexes(self) -> None:
        await self.jobs.collection.create_index([("project", 1), ("seq", -1)])
        await self.events.collection.create_index([("job", 1), ("seq", -1)])
        await self.checkpoints.collection.create_index([("job", 1), ("seq", -1)])

    async def event(self, job: str, message: str, *, level: str = "info", type: str = "message",
                    data: dict | None = None, key: str = "", created_at: int | None = None) -> None:
        """Record an event; one with a `key` is recorded once however often a retried step says it."""
        now = time.time_ns()
        event_id = f"ftevent-{job.removeprefix('ftjob-')}-{key}" if key else new_id("ftevent-")
        record = EventRecord(id=event_id, job=job, seq=sequence(now, event_id),
                             created_at=now // 10**9 if created_at is None else created_at,
                             level=level, message=message, type=type, data=data)
        await self.events.collection.replace_one({"_id": event_id}, msgspec.to_builtins(record), upsert=True)


def job_object(r: JobRecord) -> FineTuningJob:
    hp = ResolvedHyperparameters(**r.hyperparameters)
    return FineTuningJob(
        id=r.id, created_at=r.created_at, error=JobError(**r.error) if r.error else None,
        fine_tuned_model=r.fine_tuned_model, finished_at=r.finished_at, hyperparameters=hp, model=r.model,
        organization_id=r.project or "org-vivian", result_files=r.result_files, status=r.status,
        trained_tokens=r.trained_tokens, training_file=r.training_file, validation_file=r.validation_file,
        seed=r.seed, method=ResolvedMethod(supervised=ResolvedSupervised(hyperparameters=hp)),
        metadata=r.metadata, estimated_finish=r.estimated_finish)


def event_object(r: EventRecord) -> FineTuningJobEvent:
    return FineTuningJobEvent(id=r.id, created_at=r.created_at, level=r.level, message=r.message, type=r.type,
                              data=r.data)


def checkpoint_object(r: CheckpointRecord) -> FineTuningJobCheckpoint:
    return FineTuningJobCheckpoint(id=r.id, created_at=r.created_at, fine_tuned_model_checkpoint=r.model,
                                   step_number=r.step, metrics=msgspec.convert(r.metrics, CheckpointMetrics),
                                   fine_tuning_job_id=r.job)
