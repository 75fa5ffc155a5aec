"""The form of `/v1/audio/transcriptions` and `/v1/audio/translations`, read as a stream: the
file part goes into the bus's object store chunk by chunk as it arrives (at most one chunk of it
in memory), and the text fields become the typed request, once, here.
"""

import asyncio
import json
import os
import re
import uuid

import msgspec
from aiohttp import web
from aiohttp.multipart import BodyPartReader
from nats.js import api as js_api

from services.edge.context import NATS
from services.edge.reading import form
from shared import audiostore, errors
from shared.protocol.audio import AudioObject, TranscriptionRequest

MAX_AUDIO_BYTES = 25 * 1024 * 1024  # OpenAI's limit
FORMATS = ("flac", "m4a", "mp3", "mp4", "mpeg", "mpga", "oga", "ogg", "wav", "webm")
# Fields the SDK sends as arrays (`name[]`, repeated) and as objects (`name[key]`).
_LISTS = {"timestamp_granularities", "include"}
_OBJECTS = {"chunking_strategy"}


def check_format(filename: str) -> None:
    ext = os.path.splitext(filename)[1].lower().lstrip(".")
    if ext and ext not in FORMATS:
        raise errors.invalid_request(f"Invalid file format. Supported formats: {list(FORMATS)}", param="file",
                                     code="invalid_value")


async def _store(request: web.Request, part: BodyPartReader) -> AudioObject:
    filename = part.filename or "audio"
    check_format(filename)
    if not request.app[NATS].is_connected:  # the file would go nowhere: say so now, not after a timeout
        raise errors.bus_unavailable()
    store = await audiostore.bucket(request.app[NATS].jetstream())
    name = uuid.uuid4().hex
    received = 0

    async def read(size: int) -> bytes:
        nonlocal received
        chunk = await part.read_chunk(min(size, audiostore.CHUNK))
        received += len(chunk)
        if received > MAX_AUDIO_BYTES:
            raise errors.ApiError(413, f"The audio file is larger than {MAX_AUDIO_BYTES} bytes (25 MB), OpenAI's "
                                  "limit.", param="file", code="file_too_large")
        return chunk

    reader = audiostore.StreamReader(read, asyncio.get_running_loop())
    meta = js_api.ObjectMeta(name=name, options=js_api.ObjectMetaOptions(max_chunk_size=audiostore.CHUNK))
    info = await store.put(name, reader, meta=meta)
    obj = AudioObject(name=name, filename=filename, size=info.size,
                      content_type=part.headers.get("Content-Type", "application/octet-stream"))
    if info.size == 0:
        await delete(request, obj)
        raise errors.invalid_request("The audio file is empty.", param="file", code="empty_file")
    return obj


async def delete(request: web.Request, obj: AudioObject) -> None:
    store = await audiostore.bucket(request.app[NATS].jetstream())
    try:
        await store.delete(obj.name)
    except Exception:  # noqa: BLE001 - the bucket's TTL removes it anyway
        pass


async def read(request: web.Request, *, task: str) -> TranscriptionRequest:
    """The typed request, its file already in the object store (deleted again if the request is bad)."""
    fields: list[tuple[str, str]] = []
    obj: AudioObject | None = None
    try:
        async for part in form.parts(request, file_param="file"):
            if part.name == "file":
                if obj is not None:
                    raise errors.invalid_request("Send one 'file' per request.", param="file")
                obj = await _store(request, part)
            elif part.name:
                fields.append((part.name, await form.text(part)))
            else:
                await part.release()
        if obj is None:
            raise errors.invalid_request("Missing required parameter: 'file'.", param="file",
                                         code="missing_required_parameter")
        return _typed(fields, obj, task=task)
    except BaseException:
        if obj is not None:
            await asyncio.shield(delete(request, obj))
        raise


def _typed(fields: list[tuple[str, str]], obj: AudioObject, *, task: str) -> TranscriptionRequest:
    values: dict = {}
    for name, value in fields:
        key, _, sub = name.partition("[")
        if key in _LISTS:
            values.setdefault(key, []).append(value)
        elif key in _OBJECTS and sub:
            values.setdefault(key, {})[sub.rstrip("]")] = value
        elif key in _OBJECTS and value.lstrip().startswith("{"):
            try:
                values[key] = json.loads(value)
            except ValueError:
                raise errors.invalid_request(f"Invalid JSON in '{key}'.", param=key, code="invalid_value") from None
        else:
            values[key] = value
    if task == "translate":  # translations take no language, timestamps, stream or include
        values = {k: v for k, v in values.items() if k in ("model", "prompt", "response_format", "temperature")}
    for key in ("language", "prompt"):
        if values.get(key) == "":
            del values[key]
    try:
        request = msgspec.convert({**values, "file": obj, "fields": fields}, TranscriptionRequest, strict=False)
    except msgspec.ValidationError as err:
        error = errors.from_validation(err)
        if error.param:  # `timestamp_granularities[1]`: the form field is the list
            error.param = re.sub(r"\[\d+\]$", "", error.param)
        raise error from None
    if request.timestamp_granularities and request.response_format != "verbose_json":
        raise errors.invalid_request("timestamp_granularities requires response_format 'verbose_json'.",
                                     param="timestamp_granularities", code="invalid_value")
    return request
