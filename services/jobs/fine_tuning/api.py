"""/v1/fine_tuning/jobs on the bus: create, list, retrieve, cancel, pause, resume, events, checkpoints;
and for the
tuned models they make, DELETE /v1/models/{model} (`models.py`) and the checkpoint permissions that
share one with other projects (`checkpoint_permissions.py`).

A job is a record in MongoDB and one task in JetStream (`runner.py` trains it; a job of an upstream
model is created there and mirrored by `upstream.py`). Jobs belong to the
project of the key that made them: every query here filters on it, so another project gets 404.
"""

import importlib.util
import time

import msgspec

from services.kit import service as bus_service
from services.jobs.context import Context
from services.jobs.fine_tuning import checkpoint_permissions, models, runner, upstream
from services.jobs.fine_tuning.tables import TERMINAL, JobRecord, Tables, checkpoint_object, event_object, job_object
from services.kit.tables import new_id, sequence
from shared import errors, modelconfig, subjects
from shared.protocol.bus import Envelope
from shared.protocol.fine_tuning import (FineTuningJob, FineTuningJobCheckpointList, FineTuningJobEventList,
    FineTuningJobList, Hyperparameters, JobCreateRequest, ListQuery)

_create = msgspec.json.Decoder(JobCreateRequest)
_query = msgspec.json.Decoder(ListQuery)
_id = msgspec.json.Decoder(str)
MAX_METADATA = 16
TRAINING_STACK = all(importlib.util.find_spec(m) is not None for m in ("torch", "transformers", "peft", "gguf"))


def base_entry(ctx: Context, model: str) -> modelconfig.LocalModel | modelconfig.OpenAIModel:
    """The local or upstream chat model `model` names; a clear 400/404 for any other."""
    config = modelconfig.load(ctx.settings.models or None)
    entry = next((e for e in config.models if model in (e.id, *e.aliases)), None)
    if entry is None:
        raise errors.ApiError(404, f"The model `{model}` does not exist or you do not have access to it.",
                              param="model", code="model_not_found")
    if isinstance(entry, modelconfig.OpenAIModel) and entry.api == "chat":
        return entry  # fine-tuned upstream (`upstream.py`)
    if not isinstance(entry, modelconfig.LocalModel):
        raise errors.invalid_request(f"The model `{model}` is not a chat model and cannot be fine-tuned.",
                                     param="model", code="model_not_available")
    return entry


async def _file(ctx: Context, file_id: str, param: str, envelope: Envelope) -> str:
    """Checks the file is the project's and for fine-tuning; its filename."""
    try:
        found = await ctx.files.retrieve(file_id, project=envelope.project, request_id=envelope.request_id)
    except errors.ApiError as err:
        if err.status == 404:
            raise errors.invalid_request(f"File '{file_id}' not found.", param=param, code="invalid_file") from None
        raise
    if found.purpose != "fine-tune":
        raise errors.invalid_request(f"File '{file_id}' has purpose '{found.purpose}'; a fine-tuning file must "
                                     "be uploaded with purpose 'fine-tune'.", param=param, code="invalid_file")
    return found.filename


def _hyperparameters(request: JobCreateRequest) -> Hyperparameters:
    method = request.method
    if method is not None and method.type != "supervised":
        raise errors.invalid_request(f"Method '{method.type}' is not supported here; use 'supervised'.",
                                     param="method.type", code="invalid_value")
    if method is not None and method.supervised and method.supervised.hyperparameters:
        if request.hyperparameters is not None:
            raise errors.invalid_request("Give hyperparameters in `method` or at the top level, not both.",
                                         param="hyperparameters")
        return method.supervised.hyperparameters
    return request.hyperparameters or Hyperparameters()


async def create(ctx: Context, envelope: Envelope) -> FineTuningJob:
    request: JobCreateRequest = bus_service.decode(_create, envelope.body)
    hp = _hyperparameters(request)
    if request.integrations:
        raise errors.invalid_request("Integrations are not supported.", param="integrations")
    if request.metadata and (len(request.metadata) > MAX_METADATA or any(
            len(k) > 64 or len(v) > 512 for k, v in request.metadata.items())):
        raise errors.invalid_request("metadata: at most 16 pairs, keys up to 64 and values up to 512 characters.",
                                     param="metadata")
    entry = base_entry(ctx, request.model)
    if isinstance(entry, modelconfig.OpenAIModel):
        filenames = {"training_file": await _file(ctx, request.training_file, "training_file", envelope)}
        if request.validation_file:
            filenames["validation_file"] = await _file(ctx, request.validation_file, "validation_file", envelope)
        return await upstream.create(ctx, envelope, request, hp, entry, filenames)
    if not TRAINING_STACK:
        raise errors.ApiError(503, "This jobs service has no training stack installed (the `train` extra: "
                              "pip install '.[train]'); fine-tuning is unavailable.", type="server_error",
                              code="fine_tuning_unavailable")
    await _file(ctx, request.training_file, "training_file", envelope)
    if request.validation_file:
        await _file(ctx, request.validation_file, "validation_file", envelope)
    now = time.time_ns()
    job_id = new_id("ftjob-")
    record = JobRecord(id=job_id, project=envelope.project, seq=sequence(now, job_id), created_at=now // 10**9,
                       status="validating_files", model=request.model, base=entry.id,
                       training_file=request.training_file, validation_file=request.validation_file,
                       suffix=request.suffix, seed=request.seed if request.seed is not None else now % 2**31,
                       metadata=request.metadata, hyperparameters=msgspec.to_builtins(hp))
    tables = Tables(ctx.store)
    await tables.jobs.insert(record)
    await tables.event(job_id, f"Created fine-tuning job: {job_id}", key="created")
    await runner.queue(ctx, job_id)
    return job_object(record)


async def _job(ctx: Context, envelope: Envelope, job_id: str) -> JobRecord:
    record = await Tables(ctx.store).jobs.get({"_id": job_id, "project": envelope.project})
    if record is None:
        raise errors.ApiError(404, f"No fine-tuning job found with id '{job_id}'.", param="fine_tuning_job_id",
                              code="fine_tuning_job_not_found")
    return record


async def _after(table, query: dict, after: str | None) -> dict:
    """`query` narrowed to the records listed after the one with id `after` (newest first)."""
    if not after:
        return query
    cursor = await table.get({**query, "_id": after})
    if cursor is None:
        raise errors.invalid_request(f"No object found with id '{after}' to list after.", param="after")
    return {**query, "seq": {"$lt": cursor.seq}}


async def _page(table, query: dict, q: ListQuery) -> tuple[list, bool]:
    found = await table.find(await _after(table, query, q.after), sort=[("seq", -1)], limit=q.limit + 1)
    return found[:q.limit], len(found) > q.limit


def _metadata_key(key: str) -> str:
    """A `metadata[key]` filter's key as part of a document path: one that cannot be (a dot, a
    leading `$`, a quote, a control character; the stores reject or misread them) is a 400 naming it."""
    if not key or len(key) > 64 or key.startswith("$") or any(c in key for c in ".'\"\\") or not key.isprintable():
        raise errors.invalid_request(f"Cannot filter by the metadata key {key!r}: keys here are up to 64 "
                                     "printable characters without dots, quotes or backslashes, not starting "
                                     "with '$'.", param=f"metadata[{key}]", code="invalid_value")
    return key


async def list_jobs(ctx: Context, envelope: Envelope) -> FineTuningJobList:
    q: ListQuery = bus_service.decode(_query, envelope.body)
    query: dict = {"project": envelope.project}
    for key, value in (q.metadata or {}).items():
        query[f"metadata.{_metadata_key(key)}"] = value
    records, more = await _page(Tables(ctx.store).jobs, query, q)
    return FineTuningJobList(data=[job_object(r) for r in records], has_more=more)


async def retrieve(ctx: Context, envelope: Envelope) -> FineTuningJob:
    return job_object(await _job(ctx, envelope, _id.decode(envelope.body)))


async def cancel(ctx: Context, envelope: Envelope) -> FineTuningJob:
    record = await _job(ctx, envelope, _id.decode(envelope.body))
    if record.status in TERMINAL:
        raise errors.invalid_request(f"Job {record.id} has already {record.status}; it cannot be cancelled.",
                                     param="fine_tuning_job_id", code="invalid_state")
    if record.upstream:
        updated = await upstream.cancel(ctx, record)
        return job_object(updated or await _job(ctx, envelope, record.id))
    tables = Tables(ctx.store)
    updated = await tables.jobs.update({"_id": record.id, "status": record.status},
                                       {"status": "cancelled", "finished_at": int(time.time())})
    if updated is None:  # it changed meanwhile: answer with what it became
        return job_object(await _job(ctx, envelope, record.id))
    await tables.event(record.id, "The job was cancelled.", key="cancelled")
    return job_object(updated)


async def pause(ctx: Context, envelope: Envelope) -> FineTuningJob:
    """A running job stops training within a second or so; its checkpoints stay for `resume`."""
    record = await _job(ctx, envelope, _id.decode(envelope.body))
    if record.upstream:
        return job_object(await upstream.relay(ctx, record, "pause") or await _job(ctx, envelope, record.id))
    if record.status not in ("queued", "running"):
        raise errors.invalid_request(f"Job {record.id} is {record.status}; only a running job can be paused.",
                                     param="fine_tuning_job_id", code="invalid_state")
    tables = Tables(ctx.store)
    updated = await tables.jobs.update({"_id": record.id, "status": record.status}, {"status": "paused"},
                                       inc={"pauses": 1})
    if updated is None:  # it changed meanwhile: answer with what it became
        return job_object(await _job(ctx, envelope, record.id))
    await tables.event(record.id, "Fine-tuning job paused.", key=f"paused-{updated.pauses}")
    return job_object(updated)


async def resume(ctx: Context, envelope: Envelope) -> FineTuningJob:
    """A paused job is queued again; training goes on from its last checkpoint."""
    record = await _job(ctx, envelope, _id.decode(envelope.body))
    if record.upstream:
        return job_object(await upstream.relay(ctx, record, "resume") or await _job(ctx, envelope, record.id))
    if record.status != "paused":
        raise errors.invalid_request(f"Job {record.id} is {record.status}; only a paused job can be resumed.",
                                     param="fine_tuning_job_id", code="invalid_state")
    tables = Tables(ctx.store)
    # `attempts` counts starts since the last resume: pauses are not crashes.
    updated = await tables.jobs.update({"_id": record.id, "status": "paused"}, {"status": "queued", "attempts": 0})
    if updated is None:
        return job_object(await _job(ctx, envelope, record.id))
    await tables.event(record.id, "Fine-tuning job resumed.", key=f"unpaused-{updated.pauses}")
    await runner.queue(ctx, record.id, resumed=updated.pauses)
    return job_object(updated)


async def events(ctx: Context, envelope: Envelope) -> FineTuningJobEventList:
    q: ListQuery = bus_service.decode(_query, envelope.body)
    await _job(ctx, envelope, q.job)
    records, more = await _page(Tables(ctx.store).events, {"job": q.job}, q)
    return FineTuningJobEventList(data=[event_object(r) for r in records], has_more=more)


async def checkpoints(ctx: Context, envelope: Envelope) -> FineTuningJobCheckpointList:
    q: ListQuery = bus_service.decode(_query, envelope.body)
    await _job(ctx, envelope, q.job)
    records, more = await _page(Tables(ctx.store).checkpoints, {"job": q.job}, q)
    data = [checkpoint_object(r) for r in records]
    return FineTuningJobCheckpointList(data=data, has_more=more, first_id=data[0].id if data else None,
                                       last_id=data[-1].id if data else None)


ROUTES = (
    ("fine_tuning_jobs_create", subjects.FINE_TUNING_JOBS_CREATE, "/v1/fine_tuning/jobs", create),
    ("fine_tuning_jobs_list", subjects.FINE_TUNING_JOBS_LIST, "/v1/fine_tuning/jobs", list_jobs),
    ("fine_tuning_jobs_retrieve", subjects.FINE_TUNING_JOBS_RETRIEVE, "/v1/fine_tuning/jobs/{fine_tuning_job_id}",
     retrieve),
    ("fine_tuning_jobs_cancel", subjects.FINE_TUNING_JOBS_CANCEL,
     "/v1/fine_tuning/jobs/{fine_tuning_job_id}/cancel", cancel),
    ("fine_tuning_jobs_pause", subjects.FINE_TUNING_JOBS_PAUSE, "/v1/fine_tuning/jobs/{fine_tuning_job_id}/pause",
     pause),
    ("fine_tuning_jobs_resume", subjects.FINE_TUNING_JOBS_RESUME,
     "/v1/fine_tuning/jobs/{fine_tuning_job_id}/resume", resume),
    ("fine_tuning_jobs_events", subjects.FINE_TUNING_JOBS_EVENTS,
     "/v1/fine_tuning/jobs/{fine_tuning_job_id}/events", events),
    ("fine_tuning_jobs_checkpoints", subjects.FINE_TUNING_JOBS_CHECKPOINTS,
     "/v1/fine_tuning/jobs/{fine_tuning_job_id}/checkpoints", checkpoints),
    ("models_delete", subjects.MODELS_DELETE, "/v1/models/{model}", models.delete),
    ("fine_tuning_checkpoints_permissions_create", subjects.FINE_TUNING_CHECKPOINTS_PERMISSIONS_CREATE,
     "/v1/fine_tuning/checkpoints/{fine_tuned_model_checkpoint}/permissions", checkpoint_permissions.create),
    ("fine_tuning_checkpoints_permissions_list", subjects.FINE_TUNING_CHECKPOINTS_PERMISSIONS_LIST,
     "/v1/fine_tuning/checkpoints/{fine_tuned_model_checkpoint}/permissions", checkpoint_permissions.list_permissions),
    ("fine_tuning_checkpoints_permissions_delete", subjects.FINE_TUNING_CHECKPOINTS_PERMISSIONS_DELETE,
     "/v1/fine_tuning/checkpoints/{fine_tuned_model_checkpoint}/permissions/{permission_id}",
     checkpoint_permissions.delete),
)


async def start(ctx: Context) -> list:
    await Tables(ctx.store).create_indexes()
    await checkpoint_permissions.create_indexes(ctx)
    return [await runner.start(ctx), await upstream.start(ctx)]
