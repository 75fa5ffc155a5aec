"""Request ids, errors in OpenAI's shape, and API-key authentication."""

import logging
import secrets
import time

import msgspec
from aiohttp import web

from services.edge.context import KEYSTORE, PROJECT, REQUEST_ID, SETTINGS
from shared import errors
from shared.protocol.errors import ErrorResponse

log = logging.getLogger("edge")
_encode = msgspec.json.Encoder().encode

PUBLIC_PATHS = frozenset({"/healthz", "/readyz"})


def error_response(err: errors.ApiError) -> web.Response:
    return web.Response(status=err.status, body=_encode(ErrorResponse(error=err.to_object())),
                        content_type="application/json")


@web.middleware
async def request_ids(request: web.Request, handler) -> web.StreamResponse:
    """Every answer carries `x-request-id`, and every log line about the request names it."""
    request_id = request[REQUEST_ID] = "req_" + secrets.token_hex(16)
    started = time.monotonic()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        log.info("request_id=%s %s %s %s %.1fms", request_id, request.method, request.path, status,
                 (time.monotonic() - started) * 1000)


async def _stamp(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: the header goes on every response, streams and errors included."""
    if REQUEST_ID in request:
        response.headers["x-request-id"] = request[REQUEST_ID]


@web.middleware
async def api_errors(request: web.Request, handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except errors.ApiError as err:
        return error_response(err)
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
    if request.path in PUBLIC_PATHS:
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


MIDDLEWARES = [request_ids, api_errors, authenticate]
on_response_prepare = _stamp
