"""POST /v1/images/generations, /v1/images/edits, /v1/images/variations, and
GET /v1/images/content/{image_id} (a signed link to a stored image, needing no key).

An edit's or variation's files go from the form straight into the object store (`transfer`), one
PUT each; the bus carries only their keys."""

import msgspec
from aiohttp import web

from services.edge import transfer
from services.edge.context import SETTINGS
from services.edge.reading import form
from services.edge.reading.body import convert, read_json
from services.edge.relay import forward
from shared import errors, subjects
from shared.protocol.files import Download, StageRequest, StageTarget
from shared.protocol.images import (
    ImageCall,
    ImageContentRequest,
    ImageFormFields,
    ImageGenerationRequest,
    ImageInput,
)

_decoder = msgspec.json.Decoder(ImageGenerationRequest)
_encode = msgspec.json.Encoder().encode
_target = msgspec.json.Decoder(StageTarget).decode
_download = msgspec.json.Decoder(Download).decode
FILE_FIELDS = {"image", "image[]", "mask"}
MAX_IMAGES = 16  # per edit, as OpenAI's GPT image models take
routes = web.RouteTableDef()


def _origin(request: web.Request) -> str:
    return request.app[SETTINGS].public_url or f"{request.scheme}://{request.host}"


@routes.post("/v1/images/generations")
async def generations(request: web.Request) -> web.StreamResponse:
    body, parsed = await read_json(request, _decoder)
    call = ImageCall(origin=_origin(request), body=msgspec.Raw(body))
    return await forward(request, subjects.IMAGES_GENERATIONS, _encode(call), stream=bool(parsed.stream),
                         model=parsed.model or "")


@routes.post("/v1/images/edits")
async def edits(request: web.Request) -> web.StreamResponse:
    return await _form_call(request, subjects.IMAGES_EDITS, needs_prompt=True)


@routes.post("/v1/images/variations")
async def variations(request: web.Request) -> web.StreamResponse:
    return await _form_call(request, subjects.IMAGES_VARIATIONS, needs_prompt=False)


async def _form_call(request: web.Request, subject: str, *, needs_prompt: bool) -> web.StreamResponse:
    fields: list[tuple[str, str]] = []
    files: list[ImageInput] = []
    try:
        async for part in form.parts(request, file_param="image"):
            if part.name in FILE_FIELDS:
                if part.name != "mask" and sum(f.field != "mask" for f in files) == MAX_IMAGES:
                    raise errors.invalid_request(f"Send at most {MAX_IMAGES} images.", param="image")
                target = await transfer.ask(request, subjects.IMAGES_STAGE, StageRequest(), _target)
                staged = await transfer.upload(request, part, target, abort_subject=subjects.IMAGES_STAGE_ABORT)
                files.append(ImageInput(field=part.name, filename=part.filename or "image.png",
                                        content_type=part.headers.get("Content-Type", "application/octet-stream"),
                                        key=staged.id, bytes=staged.bytes))
                if staged.bytes == 0:
                    raise errors.invalid_request(f"The file '{part.filename}' is empty.", param=part.name)
            elif part.name:
                fields.append((_field_name(part.name), await form.text(part)))
            else:
                await part.release()
        parsed = _check(fields, files, needs_prompt=needs_prompt)
        call = ImageCall(origin=_origin(request), fields=fields, form=parsed, files=files)
    except BaseException:  # the service never heard of these inputs: give them up now
        for staged in files:
            await transfer.abort(request, staged.key, subject=subjects.IMAGES_STAGE_ABORT)
        raise
    return await forward(request, subject, _encode(call), stream=bool(parsed.stream), model=parsed.model or "")


def _field_name(name: str) -> str:
    """A text field goes upstream under its own name, so the name must be one a form can carry:
    printable ASCII, as every OpenAI parameter's is (aiohttp cannot send others)."""
    if not (name.isascii() and name.isprintable()):
        raise errors.invalid_request(f"Unrecognized request argument supplied: {name!r}.", param=name,
                                     code="unknown_parameter")
    return name


def _check(fields: list[tuple[str, str]], files: list[ImageInput], *, needs_prompt: bool) -> ImageFormFields:
    if not any(f.field in ("image", "image[]") for f in files):
        raise errors.invalid_request("Missing required parameter: 'image'.", param="image",
                                     code="missing_required_parameter")
    parsed = convert(dict(fields), ImageFormFields)
    if needs_prompt and parsed.prompt is None:
        raise errors.invalid_request("Missing required parameter: 'prompt'.", param="prompt",
                                     code="missing_required_parameter")
    return parsed


@routes.get("/v1/images/content/{image_id}")
async def content(request: web.Request) -> web.StreamResponse:
    try:
        ask = ImageContentRequest(id=request.match_info["image_id"], expires=int(request.query.get("expires", "")),
                                  signature=request.query.get("signature", ""))
    except ValueError:
        raise errors.ApiError(403, "This image link is incomplete: it needs its `expires` and `signature`.",
                              param="expires", code="invalid_signature") from None
    return await transfer.download(request, await transfer.ask(request, subjects.IMAGES_CONTENT, ask, _download))
