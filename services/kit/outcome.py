"""What one request came to, and where that is reported: the log line, the metrics, the span."""

import asyncio
import logging
import threading
from dataclasses import dataclass

import msgspec
from opentelemetry.trace import Span

from shared import telemetry
from shared.metrics import Metrics
from shared.protocol.bus import TokenCounts

log = logging.getLogger("request")


class _Usage(msgspec.Struct):
    """The one field of an answer or chunk (chat or legacy completions) we read back."""

    usage: TokenCounts | None = None


_decode_usage = msgspec.json.Decoder(_Usage).decode


def usage_in(body: bytes) -> TokenCounts | None:
    """The token counts an encoded answer or chunk reports, if any. msgspec skips every other
    field without building it, so this costs about a microsecond per kilobyte."""
    try:
        return _decode_usage(body).usage
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None


def chunk_usage(chunk: bytes) -> TokenCounts | None:
    # Most chunks carry no usage: a substring test spares decoding them.
    return usage_in(chunk) if b'"usage"' in chunk else None


@dataclass(slots=True)
class Outcome:
    """Filled in by the handler as the request goes; read once it ends."""

    route: str
    started: float  # event-loop time the request arrived
    request_id: str = ""
    model: str = ""
    stream: bool = False
    status: int = 200
    error: str = ""  # the error's code or type
    result: str = "done"  # done | error | cancelled
    chunks: int = 0
    usage: TokenCounts | None = None
    first_chunk: float | None = None  # seconds from `started` to the first chunk sent
    # On a cancellable endpoint: set once the request's work should stop (its client went away, or
    # its handler ended), for work running in a thread to poll; `client_gone` says which.
    stop: threading.Event | None = None
    client_gone: bool = False

    def failed(self, status: int, error: str, *, result: str = "error") -> None:
        self.status, self.error, self.result = status, error, result


def report(outcome: Outcome, metrics: Metrics, span: Span | None) -> None:
    seconds = asyncio.get_running_loop().time() - outcome.started
    # One line per request, at its end: the start is in the edge's line, and two lines per
    # request were a measurable part of the service's CPU time.
    log.info("request_id=%s %s chunks=%d seconds=%.3f route=%s model=%s stream=%s status=%d%s",
             outcome.request_id, outcome.result, outcome.chunks, seconds, outcome.route, outcome.model,
             outcome.stream, outcome.status, f" error={outcome.error}" if outcome.error else "")
    metrics.request(outcome.route, outcome.model, outcome.status, seconds)
    if outcome.first_chunk is not None:
        metrics.first_chunk(outcome.route, outcome.model, outcome.first_chunk)
    if outcome.usage is not None:
        metrics.tokens(outcome.model, prompt=outcome.usage.prompt_tokens,
                       completion=outcome.usage.completion_tokens)
    if span is not None:
        span.set_attribute(telemetry.REQUEST_ID, outcome.request_id)
        if outcome.model:
            span.set_attribute(telemetry.MODEL, outcome.model)
        span.set_attribute(telemetry.STREAM, outcome.stream)
        telemetry.finish(span, status=outcome.status, status_attribute=telemetry.STATUS, error=outcome.error,
                         usage=outcome.usage)
