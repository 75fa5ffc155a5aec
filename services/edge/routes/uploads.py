"""POST /v1/uploads, POST /v1/uploads/{upload_id}/parts, …/complete, …/cancel

A part's bytes (`data`) go to the object store through `transfer`, like a file's.
"""

import msgspec
from aiohttp import web

from services.edge import transfer
from services.edge.reading import form
from services.edge.reading.body import read_json
from services.edge.relay import forward
from shared import errors, subjects
from shared.protocol.files import (
    PartCommit,
    Staged,
    StageRequest,
    StageTarget,
    UploadCall,
    UploadCompleteRequest,
    UploadCreateRequest,
)

_encode = msgspec.json.Encoder().encode
_create = msgspec.json.Decoder(UploadCreateRequest)
_complete = msgspec.json.Decoder(UploadCompleteRequest)
_target = msgspec.json.Decoder(StageTarget).decode
routes = web.RouteTableDef()


@routes.post("/v1/uploads")
async def create(request: web.Request) -> web.StreamResponse:
    body, _ = await read_json(request, _create)
    return await forward(request, subjects.UPLOADS_CREATE, body)


@routes.post("/v1/uploads/{upload_id}/parts")
async def add_part(request: web.Request) -> web.StreamResponse:
    upload_id = request.match_info["upload_id"]
    staged: Staged | None = None
    try:
        async for part in form.parts(request, file_param="data"):
            if part.name != "data":
                await part.release()
                continue
            if staged is not None:
                raise errors.invalid_request("Send one 'data' per part.", param="data")
            target = await transfer.ask(request, subjects.FILES_STAGE, StageRequest(upload_id=upload_id), _target)
            staged = await transfer.upload(request, part, target)
        if staged is None:
            raise errors.invalid_request("Missing required parameter: 'data'.", param="data",
                                         code="missing_required_parameter")
    except BaseException:
        if staged is not None:
            await transfer.abort(request, staged.id)
        raise
    return await forward(request, subjects.UPLOADS_PARTS, _encode(PartCommit(upload_id=upload_id, staged=staged)))


@routes.post("/v1/uploads/{upload_id}/complete")
async def complete(request: web.Request) -> web.StreamResponse:
    _, body = await read_json(request, _complete)
    call = UploadCall(upload_id=request.match_info["upload_id"], body=body)
    return await forward(request, subjects.UPLOADS_COMPLETE, _encode(call))


@routes.post("/v1/uploads/{upload_id}/cancel")
async def cancel(request: web.Request) -> web.StreamResponse:
    return await forward(request, subjects.UPLOADS_CANCEL, _encode(UploadCall(upload_id=request.match_info["upload_id"])))
