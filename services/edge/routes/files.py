"""POST /v1/files, GET /v1/files, GET and DELETE /v1/files/{file_id}, GET /v1/files/{file_id}/content

The bytes of a file go between the client and the object store through `transfer`; the bus
carries only the calls about them.
"""

import msgspec
from aiohttp import web

from services.edge import transfer
from services.edge.reading import form
from services.edge.relay import by_id, by_query, forward
from shared import errors, subjects
from shared.protocol.files import (
    Download,
    ExpiresAfter,
    FileCommit,
    FileListQuery,
    Staged,
    StageRequest,
    StageTarget,
)

_encode = msgspec.json.Encoder().encode
_target = msgspec.json.Decoder(StageTarget).decode
_download = msgspec.json.Decoder(Download).decode
# The openai SDK sends nested form fields bracketed: expires_after[anchor], expires_after[seconds].
_EXPIRES = {"expires_after[anchor]": "anchor", "expires_after[seconds]": "seconds"}
routes = web.RouteTableDef()


@routes.post("/v1/files")
async def create(request: web.Request) -> web.StreamResponse:
    fields: dict[str, str] = {}
    staged: Staged | None = None
    filename = ""
    try:
        async for part in form.parts(request, file_param="file"):
            if part.name == "file":
                if staged is not None:
                    raise errors.invalid_request("Send one 'file' per request.", param="file")
                target = await transfer.ask(request, subjects.FILES_STAGE,
                                            StageRequest(purpose=fields.get("purpose")), _target)
                filename = part.filename or ""
                staged = await transfer.upload(request, part, target)
            elif part.name == "purpose" or part.name in _EXPIRES or part.name == "expires_after":
                fields[part.name] = await form.text(part)
            else:
                await part.release()
        if staged is None:
            raise errors.invalid_request("Missing required parameter: 'file'.", param="file",
                                         code="missing_required_parameter")
        commit = FileCommit(staged=staged, purpose=fields.get("purpose"), filename=filename,
                            expires_after=_expires_after(fields))
    except BaseException:
        if staged is not None:  # bytes are in, but the request failed before its commit
            await transfer.abort(request, staged.id)
        raise
    return await forward(request, subjects.FILES_CREATE, _encode(commit))


def _expires_after(fields: dict[str, str]) -> ExpiresAfter | None:
    if "expires_after" in fields:
        value = fields["expires_after"]
    elif any(name in fields for name in _EXPIRES):
        value = {key: fields[name] for name, key in _EXPIRES.items() if name in fields}
    else:
        return None
    try:
        if isinstance(value, str):
            return msgspec.json.decode(value, type=ExpiresAfter)
        return msgspec.convert(value, ExpiresAfter, strict=False)
    except (msgspec.DecodeError, msgspec.ValidationError) as err:
        raise errors.invalid_request(f"Invalid 'expires_after': {err}", param="expires_after",
                                     code="invalid_value") from None


routes.get("/v1/files")(by_query(subjects.FILES_LIST, FileListQuery))
routes.get("/v1/files/{file_id}")(by_id(subjects.FILES_RETRIEVE, "file_id"))
routes.delete("/v1/files/{file_id}")(by_id(subjects.FILES_DELETE, "file_id"))


@routes.get("/v1/files/{file_id}/content")
async def content(request: web.Request) -> web.StreamResponse:
    source = await transfer.ask(request, subjects.FILES_CONTENT, request.match_info["file_id"], _download)
    return await transfer.download(request, source)
