"""Serving the edge's apps over HTTP: header limits, and OpenAI's error object for what never reaches
a handler.

aiohttp answers a request its HTTP parser rejects (a bad request line, a header over the limit, too
many headers, an invalid method, a broken chunked body's headers…) without running the app: no
middleware, no `on_response_prepare`. `RequestHandler.handle_error` writes a plain-text page, and
logs the parser's exception with its message, which quotes the offending line: an 8 KB
`Authorization` header put the API key in the log. aiohttp 3.14 has no hook for this (aio-libs/aiohttp
issue 3287 is open), so we override `handle_error` in a subclass of `web.RequestHandler`. The
protocol objects are made by the runner's `web.Server`, one per connection, and neither class lets
us name the protocol class; `_use` below re-classes the server, and through it every protocol it
makes, to the subclasses here. Both subclasses add no state (`__slots__ = ()` for the protocol,
whose base has slots), so only behaviour changes. The same `handle_error` also answers handler
exceptions that escaped every middleware (a 500) and handler timeouts (a 504).
"""

import asyncio
import logging
import secrets
import signal

from aiohttp import http_exceptions, web

from services.edge.context import REQUEST_ID
from services.edge.middleware import error_response
from services.edge.settings import EdgeSettings
from shared import errors

log = logging.getLogger("edge")

KEEPALIVE_TIMEOUT = 75.0  # idle seconds before a kept-alive connection closes (run_app's default)


class _Protocol(web.RequestHandler):
    __slots__ = ()

    def data_received(self, data: bytes) -> None:
        # aiohttp's C parser raises on a malformed chunk in a body already being read (a bad chunk
        # size), and RequestHandler queues that as the *next* request's error, leaving the current
        # body open: its handler would wait for the body's timeout (a 408). Fail the body now, as a
        # 400 (middleware.api_errors). The private names are read defensively: if aiohttp renames
        # them, the 408 remains.
        messages = getattr(self, "_messages", None)
        before = len(messages) if messages is not None else 0
        super().data_received(data)
        request = getattr(self, "_current_request", None)
        if messages is None or request is None or len(messages) <= before or request.content.is_eof():
            return
        error = getattr(messages[-1][0], "exc", None)
        if isinstance(error, http_exceptions.HttpProcessingError):
            request.content.set_exception(web.RequestPayloadError(f"malformed body ({type(error).__name__})"))

    def handle_error(self, request: web.BaseRequest, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        if status >= 500:
            log.error("unhandled error on %s %s", request.method, request.path, exc_info=exc)
        else:
            # The exception's message quotes the line the parser refused, which can be a header
            # carrying a key: the log names the kind of error only.
            log.warning("refused a request from %s: %s", request.remote, type(exc).__name__)
        if request.writer.output_size > 0:  # the answer had begun: only closing the connection is left
            raise ConnectionError("Response is sent already, cannot send another response with the error message")
        response = error_response(api_error(status, exc, self.max_field_size))
        response.headers["x-request-id"] = request.get(REQUEST_ID) or "req_" + secrets.token_hex(16)
        response.force_close()
        return response


class _Server(web.Server):
    def __call__(self) -> web.RequestHandler:
        protocol = super().__call__()
        protocol.__class__ = _Protocol
        return protocol


def _use(server: web.Server) -> None:
    server.__class__ = _Server


def api_error(status: int, exc: BaseException | None, max_line: int) -> errors.ApiError:
    """What the client is told about a request aiohttp refused (or a handler failure nothing caught)."""
    if status == 504:
        return errors.ApiError(504, "The request timed out.", type="server_error", code="timeout")
    if status >= 500:
        return errors.server_error()
    if isinstance(exc, http_exceptions.LineTooLong) or "too many headers" in str(exc).lower():
        return errors.ApiError(431, f"The request line or a header is too long (the limit is {max_line} bytes "
                               "each), or there are too many headers.", code="request_header_too_large")
    if isinstance(exc, http_exceptions.BadHttpMethod):
        return errors.ApiError(400, "The request is not valid HTTP: unknown method.", code="invalid_request")
    return errors.ApiError(status if 400 <= status < 500 else 400,
                           f"The request is not valid HTTP ({type(exc).__name__}).", code="invalid_request")


def handler_args(settings: EdgeSettings) -> dict:
    """The per-connection limits, as `web.AppRunner` keyword arguments."""
    return {"max_line_size": settings.max_header_bytes, "max_field_size": settings.max_header_bytes,
            "max_headers": settings.max_headers, "keepalive_timeout": KEEPALIVE_TIMEOUT}


async def serve(sites: list[tuple[web.Application, str, int]], settings: EdgeSettings) -> None:
    """Serve each (app, host, port) until SIGINT or SIGTERM, then shut down gracefully."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    runners: list[web.AppRunner] = []
    try:
        for app, host, port in sites:
            runner = web.AppRunner(app, access_log=None, handler_cancellation=True, **handler_args(settings))
            runners.append(runner)
            await runner.setup()
            _use(runner.server)
            await web.TCPSite(runner, host, port).start()
        await stop.wait()
    finally:
        for runner in reversed(runners):
            await runner.cleanup()
