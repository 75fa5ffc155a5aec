"""An upstream's images answer, put the way the client asked for it.

`response_format: "url"` (DALL·E's default): each image is kept in the object store and its `url`
becomes a signed link Vivian serves (services/images/links.py), so it outlives the upstream's own
short-lived link. `b64_json`: the bytes inline, fetched from the upstream's link if it sent one.
With no `response_format`, an image comes back in the form the upstream chose, a link still
pointing here. Every other field of the answer is the upstream's, untouched.
"""

import base64
import binascii
import secrets
from collections.abc import Awaitable, Callable

import msgspec

from shared import errors

_decode = msgspec.json.Decoder(dict).decode
_encode = msgspec.json.Encoder().encode

# The formats OpenAI's image models write (`output_format`), told apart by their first bytes.
_MAGIC = ((b"\x89PNG\r\n\x1a\n", "png"), (b"\xff\xd8\xff", "jpeg"), (b"RIFF", "webp"))
CONTENT_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}

Store = Callable[[str, bytes, str], Awaitable[None]]  # (image id, bytes, content type)
Fetch = Callable[[str], Awaitable[bytes]]  # an upstream's link → the image's bytes
Link = Callable[[str], str]  # image id → a link to it


def image_id(data: bytes) -> str:
    """A new image's id, its format as the extension: `img_…​.png`."""
    kind = next((name for magic, name in _MAGIC if data.startswith(magic)), None)
    if kind is None:
        raise errors.ApiError(502, "The upstream image server sent something that is not a PNG, JPEG or WebP image.",
                              type="server_error", code="upstream_bad_image")
    return f"img_{secrets.token_hex(12)}.{kind}"


async def settle(answer: bytes, *, wanted: str | None, store: Store, fetch: Fetch, link: Link) -> bytes:
    body = _decode(answer)
    items = body.get("data") or []
    for item in items:
        if not isinstance(item, dict):
            continue
        inline, url = item.get("b64_json"), item.get("url")
        if wanted == "b64_json" and not inline and url:
            item["b64_json"] = base64.b64encode(await fetch(url)).decode()
            item.pop("url", None)
        elif (wanted == "url" and (inline or url)) or (wanted is None and url):
            data = _b64decode(inline) if inline else await fetch(url)
            name = image_id(data)
            await store(name, data, CONTENT_TYPES[name.rsplit(".", 1)[1]])
            item["url"] = link(name)
            item.pop("b64_json", None)
    return _encode(body)


def _b64decode(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise errors.ApiError(502, "The upstream image server sent an image that is not valid base64.",
                              type="server_error", code="upstream_bad_image") from None
