"""The edge's span for each request. Installed only when tracing is on, so when it is off the
requests pay nothing for it."""

import asyncio

from aiohttp import web
from opentelemetry.trace import SpanKind, Tracer

from services.edge.context import MODEL, REQUEST_ID, SPAN, STATUS
from services.edge.middleware import CLIENT_CLOSED, route_of
from shared import telemetry


def middleware(tracer: Tracer):
    """Goes right after `request_ids`: the span sees the request id, and the OpenAI-shaped error
    answers that `api_errors` makes from exceptions."""

    @web.middleware
    async def trace_request(request: web.Request, handler) -> web.StreamResponse:
        route = route_of(request)
        # A client that sends `traceparent` gets its own trace continued.
        span = request[SPAN] = tracer.start_span(
            f"{request.method} {route}", kind=SpanKind.SERVER, context=telemetry.parent(request.headers),
            attributes={"http.request.method": request.method, "http.route": route,
                        telemetry.REQUEST_ID: request[REQUEST_ID]})
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        except asyncio.CancelledError:
            status = CLIENT_CLOSED
            raise
        finally:
            if model := request.get(MODEL):
                span.set_attribute(telemetry.MODEL, model)
            telemetry.finish(span, status=request.get(STATUS, status))

    return trace_request
