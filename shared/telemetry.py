"""Tracing with OpenTelemetry: one trace per request, edge → NATS message headers → service →
upstream HTTP call, carried as W3C trace context (`traceparent`, `tracestate`).

Off unless `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set; then each
process exports its spans over OTLP (`pip install 'vivian[otlp]'`). Off means no tracer exists at
all: the hot path checks for `None` and makes no spans and no headers.

The tracer provider is handed to whoever makes spans (`create_app`, `ChatService`, the providers)
instead of being installed as OpenTelemetry's process-wide global, so a test can run the edge and
a service side by side, each with its own.
"""

import os
from collections.abc import Mapping

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, StatusCode, Tracer, TracerProvider
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from shared.protocol.bus import TokenCounts

# Attribute names from OpenTelemetry's semantic conventions (GenAI, HTTP) where one fits.
MODEL = "gen_ai.request.model"
INPUT_TOKENS = "gen_ai.usage.input_tokens"
OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
HTTP_STATUS = "http.response.status_code"
ERROR_TYPE = "error.type"
REQUEST_ID = "vivian.request_id"
STREAM = "vivian.stream"
# The HTTP status a service's answer stands for (a bus frame has no HTTP status of its own).
STATUS = "vivian.status_code"

_PROPAGATOR = TraceContextTextMapPropagator()  # stateless


def provider_from_env(service_name: str, environ: Mapping[str, str] | None = None) -> TracerProvider | None:
    """A tracer provider exporting over OTLP when the standard OTEL_* variables ask for it, else None."""
    environ = os.environ if environ is None else environ
    if not (environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")):
        return None
    if environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return None
    protocol = (environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
                or "http/protobuf")
    try:
        if protocol == "grpc":
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        else:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError:
        package = "opentelemetry-exporter-otlp-proto-" + ("grpc" if protocol == "grpc" else "http")
        raise SystemExit(f"OTEL_EXPORTER_OTLP_ENDPOINT is set but {package} is not installed "
                         f"(pip install 'vivian[otlp]' has the HTTP one)") from None
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    # OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, when set, win over our default name.
    attributes = {} if environ.get("OTEL_SERVICE_NAME") else {"service.name": service_name}
    provider = SdkTracerProvider(resource=Resource.create(attributes))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


def tracer(provider: TracerProvider | None, name: str) -> Tracer | None:
    return provider.get_tracer(name) if provider is not None else None


def shutdown(provider: TracerProvider | None) -> None:
    """Export what is still buffered; call once, as the process stops."""
    if provider is not None and hasattr(provider, "shutdown"):
        provider.shutdown()


def headers(span: Span) -> dict[str, str]:
    """`span`'s context as W3C trace headers, for a NATS message or an HTTP request."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, context=trace.set_span_in_context(span))
    return carrier


def parent(carrier: Mapping[str, str] | None) -> Context | None:
    """The trace context carried in `carrier`'s headers (None: start a new trace)."""
    return _PROPAGATOR.extract(carrier) if carrier else None


def finish(span: Span, *, status: int, status_attribute: str = HTTP_STATUS, error: str = "",
           usage: TokenCounts | None = None, error_from: int = 500) -> None:
    """Set the outcome attributes and end `span`. Statuses from `error_from` up mark it as failed
    (500 for the server side, where a 4xx is the client's mistake; 400 for a client span)."""
    if status:  # 0: no answer came (the connection failed, or the call was cancelled)
        span.set_attribute(status_attribute, status)
    if usage is not None:
        span.set_attribute(INPUT_TOKENS, usage.prompt_tokens)
        span.set_attribute(OUTPUT_TOKENS, usage.completion_tokens)
    if error:
        span.set_attribute(ERROR_TYPE, error)
    if status >= error_from:
        span.set_status(StatusCode.ERROR, error or str(status))
    span.end()
