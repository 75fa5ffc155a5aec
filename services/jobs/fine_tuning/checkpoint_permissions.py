"""/v1/fine_tuning/checkpoints/{checkpoint}/permissions: the project that tuned a model lets other
projects use it (list, create, delete).

The checkpoint is the tuned model's name (`fine_tuned_model` of one of the caller's succeeded
jobs: the final checkpoint, the one served). A permission is a record in MongoDB (`cp_…`, one per
model and project); after each change the model's entry in the `FINE_TUNED_BUCKET` KV bucket gets
the permitted projects (`shared_with`), so every chat replica lists it for their keys and serves
them. Only the owning project manages permissions: for any other caller the model does not exist
(404). Deleting the model (DELETE /v1/models/{model}) deletes its permissions.
"""

import time

import msgspec
from pymongo.errors import DuplicateKeyError

from services.jobs.context import Context
from services.jobs.fine_tuning import publish
from services.jobs.fine_tuning.tables import JobRecord, Tables
from services.kit import service as bus_service
from services.kit.tables import Table, new_id, sequence
from shared import errors
from shared.protocol.bus import Envelope
from shared.protocol.fine_tuning import (
    CheckpointPermission,
    CheckpointPermissionDeleted,
    CheckpointPermissionList,
    PermissionCreateRequest,
    PermissionQuery,
)

_create = msgspec.json.Decoder(PermissionCreateRequest)
_query = msgspec.json.Decoder(PermissionQuery)


class PermissionRecord(msgspec.Struct, kw_only=True, rename={"id": "_id"}):
    id: str
    model: str  # the tuned model's name
    job: str
    owner: str  # the project that tuned it
    project_id: str  # the project let in
    seq: str
    created_at: int


def table(ctx: Context) -> Table[PermissionRecord]:
    return ctx.store.table("fine_tuning_checkpoint_permissions", PermissionRecord)


async def create_indexes(ctx: Context) -> None:
    await table(ctx).collection.create_index([("model", 1), ("owner", 1), ("seq", -1)])
    await table(ctx).collection.create_index([("model", 1), ("owner", 1), ("project_id", 1)], unique=True)


def _object(r: PermissionRecord) -> CheckpointPermission:
    return CheckpointPermission(id=r.id, created_at=r.created_at, project_id=r.project_id)


def _page(records: list[PermissionRecord], more: bool) -> CheckpointPermissionList:
    data = [_object(r) for r in records]
    return CheckpointPermissionList(data=data, has_more=more, first_id=data[0].id if data else None,
                                    last_id=data[-1].id if data else None)


async def _job(ctx: Context, envelope: Envelope, checkpoint: str) -> JobRecord:
    """The caller's job whose tuned model is `checkpoint`; 404 for anyone else's, or none."""
    job = await Tables(ctx.store).jobs.get({"project": envelope.project, "fine_tuned_model": checkpoint,
                                            "status": "succeeded", "model_deleted": {"$in": [None, False]}})
    if job is None:
        raise errors.ApiError(404, f"No fine-tuned model checkpoint found with id '{checkpoint}'.",
                              param="fine_tuned_model_checkpoint", code="model_not_found")
    return job


async def _share(ctx: Context, job: JobRecord) -> None:
    """The model's KV entry follows the permissions as they now are."""
    records = await table(ctx).find({"model": job.fine_tuned_model, "owner": job.project})
    await publish.share(ctx, job.id, [r.project_id for r in records])


async def create(ctx: Context, envelope: Envelope) -> CheckpointPermissionList:
    request: PermissionCreateRequest = bus_service.decode(_create, envelope.body)
    job = await _job(ctx, envelope, request.checkpoint)
    permissions = table(ctx)
    made = []
    for project in dict.fromkeys(request.project_ids):  # once each, in the order given
        if project == job.project:
            raise errors.invalid_request(f"Project '{project}' owns this model already.", param="project_ids",
                                         code="invalid_value")
        query = {"model": job.fine_tuned_model, "owner": job.project, "project_id": project}
        found = await permissions.get(query)
        if found is None:
            now = time.time_ns()
            permission_id = new_id("cp_")
            found = PermissionRecord(id=permission_id, model=job.fine_tuned_model, job=job.id, owner=job.project,
                                     project_id=project, seq=sequence(now, permission_id), created_at=now // 10**9)
            try:
                await permissions.insert(found)
            except DuplicateKeyError:  # a create beside this one made it first
                found = await permissions.get(query)
        made.append(found)
    await _share(ctx, job)
    return _page(made, False)


async def list_permissions(ctx: Context, envelope: Envelope) -> CheckpointPermissionList:
    q: PermissionQuery = bus_service.decode(_query, envelope.body)
    job = await _job(ctx, envelope, q.checkpoint)
    permissions = table(ctx)
    query: dict = {"model": job.fine_tuned_model, "owner": job.project}
    if q.project_id:
        query["project_id"] = q.project_id
    newest_first = q.order == "descending"
    if q.after:
        cursor = await permissions.get({**query, "_id": q.after})
        if cursor is None:
            raise errors.invalid_request(f"No object found with id '{q.after}' to list after.", param="after")
        query["seq"] = {"$lt" if newest_first else "$gt": cursor.seq}
    found = await permissions.find(query, sort=[("seq", -1 if newest_first else 1)], limit=q.limit + 1)
    return _page(found[:q.limit], len(found) > q.limit)


async def delete(ctx: Context, envelope: Envelope) -> CheckpointPermissionDeleted:
    q: PermissionQuery = bus_service.decode(_query, envelope.body)
    job = await _job(ctx, envelope, q.checkpoint)
    gone = await table(ctx).collection.delete_one({"_id": q.permission_id, "model": job.fine_tuned_model,
                                                   "owner": job.project})
    if not gone.deleted_count:
        raise errors.ApiError(404, f"No permission found with id '{q.permission_id}'.", param="permission_id",
                              code="not_found")
    await _share(ctx, job)
    return CheckpointPermissionDeleted(id=q.permission_id, deleted=True)


async def forget(ctx: Context, job: JobRecord) -> None:
    """A deleted model's permissions go with it."""
    await table(ctx).collection.delete_many({"model": job.fine_tuned_model, "owner": job.project})
