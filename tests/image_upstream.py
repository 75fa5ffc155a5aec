"""A real OpenAI-compatible image server on loopback, for the images tests: it speaks OpenAI's
`/v1/images/*` (JSON and multipart, `url` and `b64_json`, streamed partial images) and draws real
PNGs: a flat colour taken from the prompt (or from the input image's bytes), of the size asked.

Its own links work once and then are gone, like a provider's short-lived links, so a test can show
that Vivian's links outlive them. It records every request so tests can see what went upstream.
"""

import base64
import hashlib
import secrets
import struct
import time
import zlib
from dataclasses import dataclass, field

from aiohttp import web

from tests.threaded_app import ThreadedApp

KEY = "sk-image-upstream"


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + bytes(rgb) * width
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(row * height)) + chunk(b"IEND", b""))


def colour_of(data: bytes) -> tuple[int, int, int]:
    digest = hashlib.sha256(data).digest()
    return digest[0], digest[1], digest[2]


def png_size(data: bytes) -> tuple[int, int]:
    return struct.unpack(">II", data[16:24])


def png_colour(data: bytes) -> tuple[int, int, int]:
    """The first pixel of a PNG `png()` wrote."""
    start = data.index(b"IDAT") + 4
    raw = zlib.decompressobj().decompress(data[start:start + 4096])
    return raw[1], raw[2], raw[3]


@dataclass
class Seen:
    path: str
    headers: dict
    json: dict | None = None
    fields: list[tuple[str, str]] = field(default_factory=list)
    files: list[tuple[str, str, bytes]] = field(default_factory=list)  # (field, filename, bytes)


class ImageUpstream(ThreadedApp):
    def __init__(self, port: int) -> None:
        super().__init__(port)
        self.seen: list[Seen] = []
        self._blobs: dict[str, bytes] = {}

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/v1/images/generations", self._generations),
                web.post("/v1/images/edits", self._form), web.post("/v1/images/variations", self._form),
                web.get("/blob/{name}", self._blob)]

    # ------------------------------------------------------------------ the API

    def _authorised(self, request: web.Request) -> None:
        if request.headers.get("Authorization") != f"Bearer {KEY}":
            raise web.HTTPUnauthorized(text='{"error": {"message": "bad key", "type": "invalid_request_error", '
                                            '"param": null, "code": "invalid_api_key"}}',
                                       content_type="application/json")

    async def _generations(self, request: web.Request) -> web.StreamResponse:
        self._authorised(request)
        body = await request.json()
        self.seen.append(Seen(request.path, dict(request.headers), json=body))
        if "refuse" in body.get("prompt", ""):
            return _error(400, "Your request was rejected by the safety system.", "prompt", "content_policy_violation")
        image = png(*_size(body.get("size")), colour_of(body["prompt"].encode()))
        if body.get("stream"):
            return await self._stream(request, image, body)
        return self._answer(image, _count(body, "n"), body.get("response_format") or "url")

    async def _form(self, request: web.Request) -> web.Response:
        self._authorised(request)
        seen = Seen(request.path, dict(request.headers))
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if part.filename is not None:
                seen.files.append((part.name, part.filename, bytes(await part.read())))
            else:
                seen.fields.append((part.name, await part.text()))
        self.seen.append(seen)
        fields = dict(seen.fields)
        image = png(*_size(fields.get("size")), colour_of(seen.files[0][2] + fields.get("prompt", "").encode()))
        if fields.get("stream", "").lower() in ("true", "1"):  # a form's boolean, read leniently
            return await self._stream(request, image, fields)
        return self._answer(image, _count(fields, "n"), fields.get("response_format") or "url")

    def _answer(self, image: bytes, n: int, response_format: str) -> web.Response:
        data = []
        for _ in range(n):
            if response_format == "b64_json":
                data.append({"b64_json": base64.b64encode(image).decode(), "revised_prompt": "as asked"})
            else:
                name = secrets.token_hex(8)
                self._blobs[name] = image
                data.append({"url": f"http://127.0.0.1:{self.port}/blob/{name}"})
        return web.json_response({"created": int(time.time()), "data": data})

    async def _stream(self, request: web.Request, image: bytes, body: dict) -> web.StreamResponse:
        partials = _count(body, "partial_images")
        kind = "image_edit" if request.path.endswith("/edits") else "image_generation"
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        common = {"created_at": int(time.time()), "size": "1024x1024", "quality": "low", "background": "opaque",
                  "output_format": "png", "b64_json": base64.b64encode(image).decode()}
        for index in range(partials):
            event = {"type": f"{kind}.partial_image", **common, "partial_image_index": index}
            await response.write(f"event: {kind}.partial_image\ndata: ".encode() + _json(event) + b"\n\n")
        done = {"type": f"{kind}.completed", **common,
                "usage": {"total_tokens": 3, "input_tokens": 2, "output_tokens": 1,
                          "input_tokens_details": {"text_tokens": 2, "image_tokens": 0}}}
        await response.write(f"event: {kind}.completed\ndata: ".encode() + _json(done) + b"\n\n")
        await response.write_eof()
        return response

    async def _blob(self, request: web.Request) -> web.Response:
        data = self._blobs.pop(request.match_info["name"], None)  # a link works once
        if data is None:
            return web.Response(status=404, text="expired")
        return web.Response(body=data, content_type="image/png")


def _count(body: dict, name: str) -> int:
    """An optional whole number up to 10 (1 when absent or null; a form's text), or a 400 naming it."""
    value = body.get(name)
    if value is None:
        return 1
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 10:
        raise _bad(f"Invalid '{name}': {value!r}.", name)
    return value


def _bad(message: str, param: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=_json({"error": {"message": message, "type": "invalid_request_error",
                                                    "param": param, "code": "invalid_value"}}).decode(),
                              content_type="application/json")


def _size(size: str | None) -> tuple[int, int]:
    """`WIDTHxHEIGHT` (capped at 1024), or a 400 as OpenAI answers a size it does not draw."""
    if not size or size == "auto":
        return 256, 256
    width, _, height = size.partition("x")
    if not (width.isascii() and width.isdigit() and height.isascii() and height.isdigit()
            and int(width) > 0 and int(height) > 0):
        raise _bad(f"Invalid size: {size!r}.", "size")
    return min(int(width), 1024), min(int(height), 1024)


def _json(obj) -> bytes:
    import json

    return json.dumps(obj).encode()


def _error(status: int, message: str, param: str | None, code: str | None) -> web.Response:
    return web.json_response({"error": {"message": message, "type": "invalid_request_error", "param": param,
                                        "code": code}}, status=status)
