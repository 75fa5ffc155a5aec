"""The edge's span for each request. Installed only when tracing is on, so when it is off the
requests pay nothing for it."""

from aiohttp import web
from opentelemetry.trace import SpanKind, Tracer

from services.edge.context import MODEL, REQUEST_ID, SPAN, STATUS
from services.edge.middleware import route_of, with_status
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

        def finish(status: int) -> None:
            if model := request.get(MODEL):
                span.set_attribute(telemetry.MODEL, model)
            telemetry.finish(span, status=request.get(STATUS, status))

        return await with_status(request, handler, finish)

    return trace_request
