"""Forwarding a request over the bus and turning the frames that come back into HTTP or SSE."""

import asyncio
import contextlib
import logging
import time

import msgspec
from aiohttp import web

from services.edge.context import CALLER, METRICS, MODEL, NATS, PROJECT, REQUEST_ID, SETTINGS, SPAN, STARTED, STATUS
from services.edge.middleware import route_of
from services.edge.reading.body import convert
from shared import errors, subjects, telemetry
from shared.bus import BUS_DOWN, BusUnavailable, NoResponders
from shared.protocol.bus import Blob, Data, Done, Envelope, Failure, TokenCounts
from shared.protocol.errors import ErrorResponse

log = logging.getLogger("edge")
_encode = msgspec.json.Encoder().encode
_SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def _domain(subject: str) -> str:
    return subject.split(".")[1]


def by_id(subject: str, param: str):
    """A route whose whole request is one path parameter (retrieve, delete, cancel, …): forwarded to
    `subject` as a JSON string."""

    async def handler(request: web.Request) -> web.StreamResponse:
        return await forward(request, subject, _encode(request.match_info[param]))

    return handler


def by_query(subject: str, query_type: type):
    """A list route: its query string, as `query_type`, forwarded to `subject`."""

    async def handler(request: web.Request) -> web.StreamResponse:
        return await forward(request, subject, _encode(convert(dict(request.query), query_type)))

    return handler


async def forward(request: web.Request, subject: str, body: bytes, *, stream: bool = False,
                  model: str = "") -> web.StreamResponse:
    """Send the request to the service behind `subject`; answer with JSON, or SSE when `stream`.
    `model` (the one the client asked for) labels the metrics and the span."""
    settings = request.app[SETTINGS]
    request[MODEL] = model
    span = request.get(SPAN)
    envelope = Envelope(request_id=request[REQUEST_ID], project=request.get(PROJECT, ""), body=msgspec.Raw(body))
    frames = request.app[CALLER].frames(subject, envelope, idle_timeout=settings.stream_idle_timeout,
                                        accept_timeout=settings.accept_timeout,
                                        headers=telemetry.headers(span) if span is not None else None)
    response = None
    try:
        async with asyncio.timeout(settings.request_timeout), contextlib.aclosing(frames):
            try:
                first = await anext(frames)
            except BusUnavailable:
                raise errors.bus_unavailable() from None
            except NoResponders:
                raise errors.service_unavailable(_domain(subject)) from None
            except TimeoutError:
                await _cancel(request)
                raise errors.timed_out(_domain(subject)) from None
            match first:
                case Failure():
                    raise errors.ApiError.from_object(first.status, first.error)
                case Data() if not stream:
                    _count_tokens(request, first.usage)
                    return web.Response(body=bytes(first.body), content_type="application/json")
                case Blob():
                    response = web.StreamResponse(headers={"Content-Type": first.content_type})
                    await response.prepare(request)
                    await _relay_binary(request, response, first, frames)
                    return response
            response = web.StreamResponse(headers=_SSE_HEADERS)
            await response.prepare(request)
            await _relay_stream(request, response, first, frames)
            return response
    except TimeoutError:  # the whole-request limit
        await _cancel(request)
        if response is None:
            raise errors.timed_out(_domain(subject)) from None
        await _send_error(request, response, errors.timed_out(_domain(subject)))
        return response
    except (asyncio.CancelledError, ConnectionResetError):
        # The client went away: tell whichever replica runs the request to stop.
        await asyncio.shield(_cancel(request))
        log.info("request_id=%s client disconnected, cancel sent", request[REQUEST_ID])
        raise


async def _cancel(request: web.Request) -> None:
    """Tell whichever replica runs the request to stop: the edge has given up on it."""
    try:
        await request.app[NATS].publish(subjects.CANCEL, request[REQUEST_ID].encode())
    except BUS_DOWN:  # the bus is down: the service's answers cannot come, and it stops when one fails
        pass


async def _relay_binary(request: web.Request, response: web.StreamResponse, first, frames) -> None:
    """A binary answer (audio), written piece by piece as it comes. Once bytes are out there is no
    way to send an error object: a failure then ends the body early, so the client sees a cut-off
    transfer instead of a short file, and the log says why."""
    frame = first
    while True:
        match frame:
            case Blob():
                await response.write(frame.data)
            case Done():
                await response.write_eof()
                return
            case Failure():
                request[STATUS] = frame.status
                raise ConnectionAbortedError(f"the service failed mid-answer: {frame.error.message}")
        try:
            frame = await anext(frames)
        except (TimeoutError, NoResponders, StopAsyncIteration):
            request[STATUS] = 502
            raise ConnectionAbortedError("the service stopped in the middle of a binary answer") from None


async def _relay_stream(request: web.Request, response: web.StreamResponse, first, frames) -> None:
    metrics, route = request.app[METRICS], route_of(request)
    metrics.first_chunk(route, request[MODEL], time.monotonic() - request[STARTED])
    metrics.stream_opened(route)
    try:
        frame = first
        while True:
            match frame:
                case Data():
                    await response.write(b"data: " + bytes(frame.body) + b"\n\n")
                case Done():
                    _count_tokens(request, frame.usage)
                    await response.write(b"data: [DONE]\n\n")
                    return
                case Failure():
                    await _send_error(request, response, errors.ApiError.from_object(frame.status, frame.error))
                    return
            try:
                frame = await anext(frames)
            except (TimeoutError, NoResponders):
                await _cancel(request)
                await _send_error(request, response, errors.ApiError(
                    502, "The model service stopped responding in the middle of the stream.",
                    type="server_error", code="stream_interrupted"))
                return
            except StopAsyncIteration:
                return
    finally:
        metrics.stream_closed(route)


def _count_tokens(request: web.Request, usage: TokenCounts | None) -> None:
    if usage is None:
        return
    request.app[METRICS].tokens(request[MODEL], prompt=usage.prompt_tokens, completion=usage.completion_tokens)
    if (span := request.get(SPAN)) is not None:
        span.set_attribute(telemetry.INPUT_TOKENS, usage.prompt_tokens)
        span.set_attribute(telemetry.OUTPUT_TOKENS, usage.completion_tokens)


async def _send_error(request: web.Request, response: web.StreamResponse, err: errors.ApiError) -> None:
    """Once SSE headers are out, a failure is an error event followed by `[DONE]`; the metrics and
    the span count the request with the error's status, not the 200 already sent."""
    request[STATUS] = err.status
    await response.write(b"data: " + _encode(ErrorResponse(error=err.to_object())) + b"\n\ndata: [DONE]\n\n")
