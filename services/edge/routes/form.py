"""Reading `multipart/form-data` bodies as a stream: a file part is never held whole in memory,
and the small fields beside it are read with a cap."""

from collections.abc import AsyncIterator

from aiohttp import web
from aiohttp.multipart import BodyPartReader

from shared import errors

MAX_FIELD_BYTES = 64 * 1024


async def parts(request: web.Request, *, file_param: str) -> AsyncIterator[BodyPartReader]:
    """The form's parts in order. A body that is not a form is a 400 naming `file_param`, the
    field the client most likely meant to send."""
    if request.content_type == "application/x-www-form-urlencoded":  # a form that cannot hold a file
        raise errors.invalid_request(f"Missing required parameter: '{file_param}'.", param=file_param,
                                     code="missing_required_parameter")
    if request.content_type != "multipart/form-data":
        raise errors.invalid_request(
            f"Expected a multipart/form-data body with a '{file_param}' field, got '{request.content_type}'.",
            param=file_param, code="invalid_content_type")
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):  # a nested multipart: no OpenAI form has one
                await part.release()
                continue
            yield part
    except (ValueError, AssertionError) as err:  # aiohttp's words for a malformed form
        raise errors.invalid_request(f"Malformed multipart/form-data body: {err}", param=file_param) from None


async def text(part: BodyPartReader) -> str:
    data = bytearray()
    while chunk := await part.read_chunk(8192):
        data += chunk
        if len(data) > MAX_FIELD_BYTES:
            raise errors.invalid_request(f"The form field '{part.name}' is longer than {MAX_FIELD_BYTES} bytes.",
                                         param=part.name)
    return data.decode(part.get_charset("utf-8"), "replace")
