"""Fine-tuning jobs of an upstream model (`provider = "openai"`, `api = "chat"`): created on the
upstream and mirrored here.

Create streams the training (and validation) file from our files service to the upstream's
`/v1/files` (purpose `fine-tune`), then creates the job there with the client's body as sent, only
`model` and the file ids swapped for the upstream's. Our record (our `ftjob-` id, the client's
project) keeps the upstream job's id. A JetStream task (kind `fine_tuning_upstream`) then polls the
upstream job and its events every `fine_tuning_poll_interval` seconds until it ends, copying them
into ours; each poll is one delivery (`tasks.Retry`), so a restarted or other replica carries on.
On success the tuned model is published as routed to the upstream (`publish.upstream_model`).
"""

import time

import aiohttp
import msgspec

from services.jobs import tasks
from services.jobs.context import Context
from services.jobs.fine_tuning import publish
from services.jobs.fine_tuning.tables import TERMINAL, JobRecord, Tables, job_object
from services.kit import upstream
from services.kit.tables import new_id, sequence
from shared import errors, modelconfig
from shared.protocol.bus import Envelope
from shared.protocol.fine_tuning import FineTuningJob, Hyperparameters, JobCreateRequest, ResolvedHyperparameters

KIND = "fine_tuning_upstream"
EVENTS_PAGE = 100
# Copied from the upstream's job into ours on every poll.
OWN_ERRORS = ("model_not_available", "upstream_job_not_found")
MIRRORED = ("status", "trained_tokens", "error", "fine_tuned_model", "finished_at", "estimated_finish")


class Job(msgspec.Struct):
    id: str


class Upstream(upstream.Upstream):
    """Calls to one upstream's fine-tuning and files APIs with its key; errors as the upstream's own."""

    async def call(self, method: str, path: str, **kwargs) -> dict:
        async with self.request(method, path, **kwargs) as resp:
            body = await resp.read()
        try:
            return msgspec.json.decode(body, type=dict)
        except msgspec.DecodeError:
            raise errors.ApiError(502, "The upstream answered with something other than a JSON object.",
                                  type="server_error", code="upstream_error") from None

    async def upload(self, ctx: Context, file_id: str, filename: str, envelope: Envelope) -> str:
        """Our file's bytes, streamed to the upstream's /v1/files; the upstream's file id."""
        chunks = ctx.files.chunks(file_id, project=envelope.project, request_id=envelope.request_id)
        with aiohttp.MultipartWriter("form-data") as form:
            form.append("fine-tune").set_content_disposition("form-data", name="purpose")
            part = form.append_payload(aiohttp.payload.AsyncIterablePayload(chunks, content_type="application/jsonl"))
            part.set_content_disposition("form-data", name="file", filename=filename)
            answer = await self.call("POST", "files", data=form, request_id=envelope.request_id)
        return answer["id"]


def _hyperparameters(remote: dict, asked: Hyperparameters) -> dict:
    """The upstream's (resolved) hyperparameters when it gives them in OpenAI's shape, else ours."""
    found = ((remote.get("method") or {}).get("supervised") or {}).get("hyperparameters") \
        or remote.get("hyperparameters")
    try:
        return msgspec.to_builtins(msgspec.convert(found, ResolvedHyperparameters))
    except (msgspec.ValidationError, TypeError):
        return msgspec.to_builtins(asked)


async def create(ctx: Context, envelope: Envelope, request: JobCreateRequest, hp: Hyperparameters,
                 entry: modelconfig.OpenAIModel, filenames: dict[str, str]) -> FineTuningJob:
    body = msgspec.json.decode(envelope.body, type=dict)  # every field of the client's, passed through
    async with Upstream(entry, tracer=ctx.tracer) as up:
        body["model"] = up.model
        uploaded: list[str] = []
        try:
            for param in ("training_file", "validation_file"):
                if ours := getattr(request, param):
                    uploaded.append(await up.upload(ctx, ours, filenames[param], envelope))
                    body[param] = uploaded[-1]
            remote = await up.call("POST", "fine_tuning/jobs", json=body, request_id=envelope.request_id)
        except errors.ApiError:
            for file_id in uploaded:  # best effort: no job will use them
                try:
                    await up.call("DELETE", f"files/{file_id}")
                except errors.ApiError:
                    pass
            raise
    now = time.time_ns()
    job_id = new_id("ftjob-")
    record = JobRecord(id=job_id, project=envelope.project, seq=sequence(now, job_id), created_at=now // 10**9,
                       status=remote.get("status") or "validating_files", model=request.model, base=entry.id,
                       training_file=request.training_file, validation_file=request.validation_file,
                       suffix=request.suffix, seed=remote.get("seed") or request.seed or 0,
                       metadata=request.metadata, hyperparameters=_hyperparameters(remote, hp),
                       upstream=remote["id"], upstream_files=uploaded)
    tables = Tables(ctx.store)
    await tables.jobs.insert(record)
    await tables.event(job_id, f"Created fine-tuning job: {job_id} (upstream job {remote['id']})", key="created")
    await tasks.publish(ctx.js, KIND, "poll", Job(id=job_id), msg_id=f"ftup-{job_id}")
    return job_object(record)


def entry_of(ctx: Context, job: JobRecord) -> modelconfig.OpenAIModel | None:
    config = modelconfig.load(ctx.settings.models or None)
    return next((e for e in config.models if e.id == job.base and isinstance(e, modelconfig.OpenAIModel)), None)


def unavailable(job: JobRecord) -> errors.ApiError:
    return errors.ApiError(503, f"The model {job.base} of job {job.id} is no longer an upstream model in this "
                           "service's model config.", type="server_error", code="model_not_available")


async def cancel(ctx: Context, job: JobRecord) -> JobRecord | None:
    """Cancel upstream (its refusal is relayed), then ours; None when ours ended meanwhile."""
    entry = entry_of(ctx, job)
    if entry is None:
        raise unavailable(job)
    async with Upstream(entry, tracer=ctx.tracer) as up:
        remote = await up.call("POST", f"fine_tuning/jobs/{job.upstream}/cancel")
    tables = Tables(ctx.store)
    updated = await tables.jobs.update({"_id": job.id, "status": {"$nin": list(TERMINAL)}},
                                       {"status": "cancelled",
                                        "finished_at": remote.get("finished_at") or int(time.time())})
    if updated is not None:
        await tables.event(job.id, "The job was cancelled (and its upstream job too).", key="cancelled")
    return updated


async def relay(ctx: Context, job: JobRecord, action: str) -> JobRecord | None:
    """`pause` or `resume` the upstream job (its refusal relayed), then ours takes its status; None
    when ours ended meanwhile."""
    entry = entry_of(ctx, job)
    if entry is None:
        raise unavailable(job)
    async with Upstream(entry, tracer=ctx.tracer) as up:
        remote = await up.call("POST", f"fine_tuning/jobs/{job.upstream}/{action}")
    tables = Tables(ctx.store)
    status = remote.get("status") or ("paused" if action == "pause" else "queued")
    updated = await tables.jobs.update({"_id": job.id, "status": {"$nin": list(TERMINAL)}}, {"status": status})
    if updated is not None:
        await tables.event(job.id, f"Fine-tuning job {action}d (and its upstream job too).",
                           key=f"{action}-{time.time_ns()}")
    return updated


async def start(ctx: Context) -> tasks.Worker:
    async def handle(step: str, data: bytes) -> None:
        await poll(ctx, msgspec.json.decode(data, type=Job).id)

    worker = tasks.Worker(ctx.js, KIND, handle, concurrency=ctx.settings.fine_tuning_upstream_workers,
                          ack_wait=ctx.settings.ack_wait)
    await worker.start()
    return worker


async def poll(ctx: Context, job_id: str) -> None:
    """One look at the upstream job; `tasks.Retry` (look again later) until it has ended."""
    tables = Tables(ctx.store)
    job = await tables.jobs.get({"_id": job_id})
    if job is None or job.status in TERMINAL:
        return
    entry = entry_of(ctx, job)
    if entry is None:
        await _end(tables, job, {"status": "failed", "finished_at": int(time.time()), "error": {
            "code": "model_not_available", "message": unavailable(job).message, "param": "model"}})
        return
    async with Upstream(entry, tracer=ctx.tracer) as up:
        try:
            remote = await up.call("GET", f"fine_tuning/jobs/{job.upstream}")
        except errors.ApiError as err:
            if err.status != 404:
                raise  # the upstream is down or busy: the task is retried later
            remote = {"status": "failed", "finished_at": int(time.time()), "error": {
                "code": "upstream_job_not_found", "param": None,
                "message": f"The upstream no longer knows job {job.upstream}: {err.message}"}}
        await _events(tables, job, up)
    changes = {key: remote.get(key) for key in MIRRORED if key in remote}
    if isinstance(error := changes.get("error"), dict):  # OpenAI's JobError: code, message, param
        changes["error"] = {"code": str(error.get("code") or "upstream_error"),
                            "message": str(error.get("message") or ""), "param": error.get("param")}
    if not changes.get("error"):
        changes.pop("error", None)
    if remote.get("status") not in TERMINAL:
        if changes:
            await tables.jobs.update({"_id": job.id, "status": {"$nin": list(TERMINAL)}}, changes)
        raise tasks.Retry(ctx.settings.fine_tuning_poll_interval)
    if remote["status"] == "succeeded" and remote.get("fine_tuned_model"):
        await publish.upstream_model(ctx, job, name=remote["fine_tuned_model"], entry=entry)
    if await _end(tables, job, changes) is None and remote["status"] == "succeeded":
        await publish.withdraw(ctx, job.id)  # cancelled in the last moment


async def _end(tables: Tables, job: JobRecord, changes: dict) -> JobRecord | None:
    if (changes.get("error") or {}).get("code") in OWN_ERRORS:  # the upstream's own come with its events
        await tables.event(job.id, (changes.get("error") or {}).get("message") or "The upstream job failed.",
                           level="error", key="failed")
    return await tables.jobs.update({"_id": job.id, "status": {"$nin": list(TERMINAL)}}, changes)


async def _events(tables: Tables, job: JobRecord, up: Upstream) -> None:
    """The upstream's events not yet copied, oldest first (so a crash midway leaves a prefix)."""
    ours = job.id.removeprefix("ftjob-")
    new: list[dict] = []
    after = None
    while True:
        query = {"limit": EVENTS_PAGE} | ({"after": after} if after else {})
        page = await up.call("GET", f"fine_tuning/jobs/{job.upstream}/events", params=query)
        data = page.get("data") or []
        for event in data:  # newest first
            key = "up-" + str(event["id"]).removeprefix("ftevent-")
            if await tables.events.get({"_id": f"ftevent-{ours}-{key}"}) is not None:
                break
            new.append(event | {"key": key})
        else:
            if page.get("has_more") and data:
                after = data[-1]["id"]
                continue
        break
    for event in reversed(new):
        await tables.event(job.id, event.get("message", ""), level=event.get("level", "info"),
                           type=event.get("type", "message"), data=event.get("data"), key=event["key"],
                           created_at=event.get("created_at"))
