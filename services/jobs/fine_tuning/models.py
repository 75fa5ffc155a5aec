"""DELETE /v1/models/{model}: a fine-tuned model, deleted by the project that tuned it.

The model is the `fine_tuned_model` of one of the project's succeeded jobs. Deleting it withdraws
its entry from the KV bucket every chat replica watches (and its adapter) and its checkpoint
permissions, so it leaves
`/v1/models` and calls to it get 404; a model tuned on an upstream is deleted there first. The job
itself stays, as OpenAI's does. A configured (base) model cannot be deleted: 403. Any other name,
another project's tuned model included, is 404, as if it did not exist.
"""

import msgspec

from services.jobs.context import Context
from services.jobs.fine_tuning import checkpoint_permissions, publish, upstream
from services.jobs.fine_tuning.tables import JobRecord, Tables
from shared import errors, modelconfig
from shared.protocol.bus import Envelope
from shared.protocol.models import ModelDeleted

_name = msgspec.json.Decoder(str)


def _live(project: str, name: str) -> dict:
    """The query for the project's job whose tuned model `name` is still there (`$in`, not `$ne`:
    nx-27017's find-and-update does not match `$ne`)."""
    return {"project": project, "fine_tuned_model": name, "status": "succeeded",
            "model_deleted": {"$in": [None, False]}}


def _configured(ctx: Context, name: str) -> bool:
    config = modelconfig.load(ctx.settings.models or None)
    return any(name in (e.id, *e.aliases) for e in config.models)


async def _delete_upstream(ctx: Context, job: JobRecord, name: str) -> None:
    entry = upstream.entry_of(ctx, job)
    if entry is None:
        raise upstream.unavailable(job)
    async with upstream.Upstream(entry) as up:
        try:
            await up.call("DELETE", f"models/{name}")
        except errors.ApiError as err:
            if err.status != 404:  # already gone there: delete ours all the same
                raise


async def delete(ctx: Context, envelope: Envelope) -> ModelDeleted:
    name = _name.decode(envelope.body)
    tables = Tables(ctx.store)
    job = await tables.jobs.get(_live(envelope.project, name))
    if job is None:
        if _configured(ctx, name):
            raise errors.ApiError(403, "You have insufficient permissions for this operation: only a fine-tuned "
                                  f"model can be deleted, and `{name}` is not one of yours.", param="model",
                                  code="insufficient_permissions")
        raise errors.ApiError(404, f"The model `{name}` does not exist or you do not have access to it.",
                              param="model", code="model_not_found")
    if job.upstream:
        await _delete_upstream(ctx, job, name)
    await publish.withdraw(ctx, job.id)
    if await tables.jobs.update({**_live(envelope.project, name), "_id": job.id}, {"model_deleted": True}) is None:
        raise errors.model_not_found(name)  # another delete got there first
    await checkpoint_permissions.forget(ctx, job)
    await tables.event(job.id, f"The fine-tuned model {name} was deleted.", key="model_deleted")
    return ModelDeleted(id=name, deleted=True)
