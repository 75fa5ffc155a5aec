"""Reading `multipart/form-data` bodies as a stream: a file part is never held whole in memory,
and the small fields beside it are read with a cap.

A malformed form is the client's error wherever it shows: in the form's headers, in a part's headers,
or in a part's bytes as some route reads them (a body cut short, a boundary that never comes). aiohttp
says so with ValueError, AssertionError or its HTTP parser's errors; here they become a 400 in OpenAI's
shape, whichever route, and whoever (`transfer.upload`, the audio store) reads the part.
"""

from collections.abc import AsyncIterator

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.multipart import BodyPartReader

from shared import errors

MAX_FIELD_BYTES = 64 * 1024
_MALFORMED = (ValueError, AssertionError, HttpProcessingError)  # aiohttp's words for a malformed form


def malformed(err: BaseException, param: str | None) -> errors.ApiError:
    reason = getattr(err, "message", None) or str(err) or type(err).__name__
    if reason == "Reading after EOF":
        reason = "the body ends before the form does (no closing boundary)"
    return errors.invalid_request(f"Malformed multipart/form-data body: {str(reason)[:200]}", param=param,
                                  code="invalid_multipart")


class _Part(BodyPartReader):
    """A form part whose every read (and so `release`, `text`, `read`) turns a malformed body into a 400."""

    async def read_chunk(self, size: int = BodyPartReader.chunk_size) -> bytes:
        try:
            return await super().read_chunk(size)
        except _MALFORMED as err:
            raise malformed(err, self.name) from None


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
        reader.part_reader_cls = _Part  # aiohttp's hook for the class of the parts it makes
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):  # a nested multipart: no OpenAI form has one
                await part.release()
                continue
            yield part
    except _MALFORMED as err:
        raise malformed(err, file_param) from None


async def text(part: BodyPartReader) -> str:
    data = bytearray()
    while chunk := await part.read_chunk(8192):
        data += chunk
        if len(data) > MAX_FIELD_BYTES:
            raise errors.invalid_request(f"The form field '{part.name}' is longer than {MAX_FIELD_BYTES} bytes.",
                                         param=part.name)
    try:
        return data.decode(part.get_charset("utf-8"), "replace")
    except LookupError:  # a charset Python does not know
        raise errors.invalid_request(f"The form field '{part.name}' names an unknown charset: "
                                     f"{part.get_charset('utf-8')[:100]!r}.", param=part.name,
                                     code="invalid_multipart") from None
