"""GET/POST /v1/fine_tuning/checkpoints/{checkpoint}/permissions and DELETE
…/permissions/{permission_id} (served by the jobs service)."""

import msgspec
from aiohttp import web

from services.edge.reading.body import convert, read_json
from services.edge.relay import forward
from shared import subjects
from shared.protocol.fine_tuning import PermissionCreateRequest, PermissionQuery

_encode = msgspec.json.Encoder().encode
_create = msgspec.json.Decoder(PermissionCreateRequest)
routes = web.RouteTableDef()
# `.+`: a tuned model's name contains colons and may contain slashes.
PERMISSIONS = "/v1/fine_tuning/checkpoints/{checkpoint:.+}/permissions"


@routes.post(PERMISSIONS)
async def create(request: web.Request) -> web.StreamResponse:
    _, body = await read_json(request, _create)
    body.checkpoint = request.match_info["checkpoint"]
    return await forward(request, subjects.FINE_TUNING_CHECKPOINTS_PERMISSIONS_CREATE, _encode(body))


@routes.get(PERMISSIONS)
async def list_permissions(request: web.Request) -> web.StreamResponse:
    values = {name: value for name, value in request.query.items()
              if name in ("after", "limit", "order", "project_id")}
    query = convert({**values, "checkpoint": request.match_info["checkpoint"]}, PermissionQuery)
    return await forward(request, subjects.FINE_TUNING_CHECKPOINTS_PERMISSIONS_LIST, _encode(query))


@routes.delete(PERMISSIONS + "/{permission_id}")
async def delete(request: web.Request) -> web.StreamResponse:
    query = PermissionQuery(checkpoint=request.match_info["checkpoint"],
                            permission_id=request.match_info["permission_id"])
    return await forward(request, subjects.FINE_TUNING_CHECKPOINTS_PERMISSIONS_DELETE, _encode(query))
