"""Request ids, logs and metrics; a body that stops arriving is a 408; errors in OpenAI's shape;
API-key authentication."""

import asyncio
import logging
import secrets
import time
from collections.abc import Callable

import msgspec
from aiohttp import web

from services.edge.context import KEYSTORE, METRICS, MODEL, PROJECT, REQUEST_ID, SETTINGS, STARTED, STATUS
from shared import errors
from shared.protocol.errors import ErrorResponse

log = logging.getLogger("edge")
_encode = msgspec.json.Encoder().encode

PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
# Links to stored images carry their own signature and expiry, as OpenAI's do: no key needed.
PUBLIC_PREFIXES = ("/v1/images/content/",)
MIN_BODY_RATE = 1024  # bytes a second a body must average over each body_read_timeout window


def error_response(err: errors.ApiError) -> web.Response:
    return web.Response(status=err.status, body=_encode(ErrorResponse(error=err.to_object())),
                        content_type="application/json")


def route_of(request: web.Request) -> str:
    """The matched route's template (`/v1/models/{model}`): a bounded label, unlike the path."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def request_ids(request: web.Request, handler) -> web.StreamResponse:
    """Every answer carries `x-request-id`, and every log line about the request names it; every
    request is counted and timed in the metrics."""
    request[REQUEST_ID] = "req_" + secrets.token_hex(16)
    request[STARTED] = time.monotonic()
    # aiohttp writes a plain answer right after this returns, in the same event-loop step: logged
    # and counted in the next step, the line and the metrics do not delay the answer.
    loop = asyncio.get_running_loop()
    return await with_status(request, handler, lambda status: loop.call_soon(_record, request, status))


async def with_status(request: web.Request, handler, done: Callable[[int], object]) -> web.StreamResponse:
    """`handler(request)`, then `done(status)` with the HTTP status it came to: the response's, an
    HTTP exception's, 499 for a client that left, 500 for anything else."""
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    except asyncio.CancelledError:
        status = errors.CLIENT_CLOSED
        raise
    finally:
        done(status)


def _record(request: web.Request, status: int) -> None:
    seconds = time.monotonic() - request[STARTED]
    status = request.get(STATUS, status)
    log.info("request_id=%s %s %s %s %.1fms", request[REQUEST_ID], request.method, request.path, status,
             seconds * 1000)
    request.app[METRICS].request(route_of(request), request.get(MODEL, ""), status, seconds)


async def _stamp(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: the header goes on every response, streams and errors included."""
    if REQUEST_ID in request:
        response.headers["x-request-id"] = request[REQUEST_ID]


class BodyTimeout(TimeoutError):
    """The client stopped sending its body. Set on the request's payload stream, so whichever read is
    waiting for the body (JSON, a form field, a file streaming to the store) fails with it. A
    TimeoutError, so that aiohttp's own read of the rest of an unread body ends quietly too."""


class _BodyWatch:
    """Fails the request's body with BodyTimeout when, for `timeout` seconds, it neither finished nor
    brought MIN_BODY_RATE bytes a second (a client that sent less than its Content-Length, stopped
    mid-upload, or trickles a byte at a time). Time the edge itself holds the body back does not count:
    a read-paused transport means we have not consumed what came (TCP flow control, a slow store)."""

    def __init__(self, request: web.Request, timeout: float) -> None:
        self._request, self._timeout = request, timeout
        self._loop = asyncio.get_running_loop()
        self._need = timeout * MIN_BODY_RATE
        self._restart()
        self._handle = self._loop.call_later(timeout / 4, self._check)

    def _restart(self) -> None:
        self._since, self._from = self._loop.time(), self._request.content.total_bytes

    def _check(self) -> None:
        content, transport = self._request.content, self._request.transport
        if content.is_eof() or content.exception() is not None or transport is None:
            return  # all of it came, or the connection is gone: nothing left to watch
        if content.total_bytes - self._from >= self._need or not transport.is_reading():
            self._restart()
        elif self._loop.time() - self._since >= self._timeout:
            content.set_exception(BodyTimeout())
            return
        self._handle = self._loop.call_later(self._timeout / 4, self._check)

    def cancel(self) -> None:
        self._handle.cancel()


@web.middleware
async def body_deadline(request: web.Request, handler) -> web.StreamResponse:
    """A body that stops arriving (or crawls) for `body_read_timeout` seconds ends the request with a
    408, and its connection."""
    timeout = request.app[SETTINGS].body_read_timeout
    if timeout <= 0 or not request.body_exists or request.content.is_eof():  # 0: no timeout
        return await handler(request)
    watch = _BodyWatch(request, timeout)
    try:
        return await handler(request)
    except BodyTimeout:
        log.info("request_id=%s body stalled for %gs: 408, closing", request[REQUEST_ID], timeout)
        response = error_response(errors.ApiError(
            408, f"The request body stopped arriving: less than {MIN_BODY_RATE} bytes a second came for "
            f"{timeout:g} seconds.",
            code="request_timeout"))
        response.force_close()
        return response
    finally:
        watch.cancel()


@web.middleware
async def api_errors(request: web.Request, handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except errors.ApiError as err:
        return error_response(err)
    except web.RequestPayloadError as err:  # the HTTP parser refused the body: a broken chunked encoding…
        response = error_response(errors.invalid_request(f"The request body could not be read: {str(err)[:200]}"))
        response.force_close()
        return response
    except web.HTTPRequestEntityTooLarge:
        return error_response(errors.ApiError(
            413, f"Request body too large: the limit is {request.app[SETTINGS].max_body_bytes} bytes.",
            code="request_too_large"))
    except web.HTTPNotFound:
        return error_response(errors.ApiError(404, f"Invalid URL ({request.method} {request.path})",
                                              code="unknown_url"))
    except web.HTTPMethodNotAllowed:
        return error_response(errors.ApiError(405, f"Method {request.method} is not allowed on {request.path}.",
                                              code="method_not_allowed"))


@web.middleware
async def authenticate(request: web.Request, handler) -> web.StreamResponse:
    if request.path in PUBLIC_PATHS or request.path.startswith(PUBLIC_PREFIXES):
        return await handler(request)
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        raise errors.ApiError(401, "You didn't provide an API key. You need to provide your API key in an "
                              "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                              code="invalid_api_key")
    record = request.app[KEYSTORE].lookup(key)
    if record is None:
        shown = f"{key[:8]}{'*' * 10}{key[-4:]}" if len(key) > 12 else "***"
        raise errors.ApiError(401, f"Incorrect API key provided: {shown}.", code="invalid_api_key")
    request[PROJECT] = record.project
    return await handler(request)


MIDDLEWARES = [request_ids, body_deadline, api_errors, authenticate]
on_response_prepare = _stamp
