"""A tuned model made servable: its adapter GGUF goes to the NATS object store `ADAPTERS_BUCKET`,
then its entry to the KV bucket `FINE_TUNED_BUCKET`, which every chat replica watches; the entry
names the projects it is shared with (checkpoint permissions)."""

import time
from pathlib import Path

import msgspec
from nats.js.errors import KeyDeletedError, KeyNotFoundError, KeyWrongLastSequenceError, NotFoundError

from services.jobs.context import Context
from services.jobs.fine_tuning.tables import JobRecord
from shared.modelconfig import OpenAIModel
from shared.protocol.fine_tuning import FineTunedModel, UpstreamTarget
from shared.tuned_model_buckets import buckets


async def model(ctx: Context, job: JobRecord, *, name: str, adapter: Path) -> None:
    kv, store = await buckets(ctx.js)
    object_name = f"{job.id}.gguf"
    await store.put(object_name, adapter.read_bytes())
    entry = FineTunedModel(id=name, base=job.base, adapter=object_name, created=int(time.time()),
                           owned_by=job.project or "vivian", project=job.project)
    await kv.put(job.id, msgspec.json.encode(entry))


async def withdraw(ctx: Context, job_id: str) -> None:
    kv, store = await buckets(ctx.js)
    await kv.delete(job_id)
    try:
        await store.delete(f"{job_id}.gguf")
    except NotFoundError:
        pass


async def upstream_model(ctx: Context, job: JobRecord, *, name: str, entry: OpenAIModel) -> None:
    """A model tuned on an upstream: served by routing `name` to that upstream, as the base is."""
    kv, _ = await buckets(ctx.js)
    target = UpstreamTarget(base_url=entry.base_url, api_key_env=entry.api_key_env, upstream_model=name,
                            timeout=entry.timeout)
    tuned = FineTunedModel(id=name, base=job.base, created=int(time.time()), owned_by=job.project or "vivian",
                            project=job.project, upstream=target)
    await kv.put(job.id, msgspec.json.encode(tuned))


async def share(ctx: Context, job_id: str, projects: list[str]) -> None:
    """Let keys of `projects` see and call the tuned model of `job_id` too (besides its own
    project's); a model no longer (or not yet) served is left alone."""
    kv, _ = await buckets(ctx.js)
    while True:
        try:
            found = await kv.get(job_id)
        except (KeyNotFoundError, KeyDeletedError):
            return
        entry = msgspec.json.decode(found.value, type=FineTunedModel)
        entry.shared_with = sorted(set(projects))
        try:
            await kv.update(job_id, msgspec.json.encode(entry), last=found.revision)
            return
        except KeyWrongLastSequenceError:  # changed meanwhile: again, on what it became
            continue
