"""Reading and checking a JSON body, once, at the border."""

from typing import TypeVar

import msgspec
from aiohttp import web

from shared import errors

T = TypeVar("T")


async def read_json(request: web.Request, decoder: msgspec.json.Decoder) -> tuple[bytes, T]:
    """The raw body and its typed form; a body that does not fit becomes a 400 naming the field."""
    body = await request.read()
    if not body:
        raise errors.invalid_request("The request body is empty; a JSON object is required.")
    try:
        return body, decoder.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError) as err:
        raise errors.from_validation(err) from None


def convert(values: dict, cls: type[T]) -> T:
    """Query-string or form values (all strings) as `cls`, converted leniently ("10" → 10); what does
    not fit becomes a 400 naming the field."""
    try:
        return msgspec.convert(values, cls, strict=False)
    except msgspec.ValidationError as err:
        raise errors.from_validation(err) from None
