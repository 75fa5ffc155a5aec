"""POST/GET /v1/fine_tuning/jobs, GET /v1/fine_tuning/jobs/{id}, POST …/{id}/cancel, …/pause, …/resume,
GET …/{id}/events and GET …/{id}/checkpoints (served by the jobs service)."""

import msgspec
from aiohttp import web

from services.edge.reading.body import convert, read_json
from services.edge.relay import by_id, forward
from shared import subjects
from shared.protocol.fine_tuning import JobCreateRequest, ListQuery

_encode = msgspec.json.Encoder().encode
_create = msgspec.json.Decoder(JobCreateRequest)
routes = web.RouteTableDef()


def _query(request: web.Request, job: str = "") -> bytes:
    """`after`, `limit` and (for the jobs list) `metadata[key]=value` as the SDK sends them."""
    values: dict = {"job": job}
    metadata = {}
    for name, value in request.query.items():
        if name.startswith("metadata[") and name.endswith("]"):
            metadata[name[len("metadata["):-1]] = value
        elif name in ("after", "limit"):
            values[name] = value
    if metadata:
        values["metadata"] = metadata
    return _encode(convert(values, ListQuery))


@routes.post("/v1/fine_tuning/jobs")
async def create(request: web.Request) -> web.StreamResponse:
    body, job = await read_json(request, _create)
    return await forward(request, subjects.FINE_TUNING_JOBS_CREATE, body, model=job.model)


@routes.get("/v1/fine_tuning/jobs")
async def list_jobs(request: web.Request) -> web.StreamResponse:
    return await forward(request, subjects.FINE_TUNING_JOBS_LIST, _query(request))


routes.get("/v1/fine_tuning/jobs/{job_id}")(by_id(subjects.FINE_TUNING_JOBS_RETRIEVE, "job_id"))
routes.post("/v1/fine_tuning/jobs/{job_id}/cancel")(by_id(subjects.FINE_TUNING_JOBS_CANCEL, "job_id"))
routes.post("/v1/fine_tuning/jobs/{job_id}/pause")(by_id(subjects.FINE_TUNING_JOBS_PAUSE, "job_id"))
routes.post("/v1/fine_tuning/jobs/{job_id}/resume")(by_id(subjects.FINE_TUNING_JOBS_RESUME, "job_id"))


@routes.get("/v1/fine_tuning/jobs/{job_id}/events")
async def events(request: web.Request) -> web.StreamResponse:
    return await forward(request, subjects.FINE_TUNING_JOBS_EVENTS, _query(request, request.match_info["job_id"]))


@routes.get("/v1/fine_tuning/jobs/{job_id}/checkpoints")
async def checkpoints(request: web.Request) -> web.StreamResponse:
    return await forward(request, subjects.FINE_TUNING_JOBS_CHECKPOINTS,
                         _query(request, request.match_info["job_id"]))
