"""Request metrics, kept the same way by every Vivian process: the edge serves them as Prometheus text
at `/metrics`; each service reports them in its NATS micro `$SRV.STATS` (see `shared.protocol.metrics`).

Written here rather than with `prometheus-client`: we need a handful of families, a snapshot that
travels over NATS as JSON (the client library has no such form), and no locks (every process is one
event loop). Recording is a dict update and, for histograms, a bisect: about a microsecond.
"""

import re
from bisect import bisect_left

from shared.protocol.metrics import Family, HistogramSample, MetricsSnapshot, Sample

# Seconds. LLM calls run from milliseconds (a cached or tiny answer) to minutes (long generations).
LATENCY_BOUNDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
                  120.0, 300.0)
# Model names come from clients, so a label is bounded three ways. A request answered 404 (no such
# model), or naming a model longer than MAX_MODEL_CHARS or outside MODEL_CHARS, counts as "unknown".
# Past MAX_MODELS distinct names, new ones count as "other". So a client sending random or huge names
# cannot grow the series, the memory or /metrics without bound.
MAX_MODELS = 256
MAX_MODEL_CHARS = 128
MODEL_CHARS = re.compile(r"[A-Za-z0-9._:/@+-]*")  # model ids, aliases, ft:… names, org/name
OTHER = "other"
UNKNOWN = "unknown"


class _Histogram:
    __slots__ = ("counts", "sum")

    def __init__(self) -> None:
        self.counts = [0] * (len(LATENCY_BOUNDS) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(LATENCY_BOUNDS, value)] += 1
        self.sum += value


class Metrics:
    """One process's (or one endpoint's) request metrics."""

    def __init__(self) -> None:
        self._requests: dict[tuple[str, str, int], int] = {}
        self._duration: dict[tuple[str, str], _Histogram] = {}
        self._first_chunk: dict[tuple[str, str], _Histogram] = {}
        self._tokens: dict[tuple[str, str], int] = {}  # (model, "input" | "output")
        self._streams_open: dict[str, int] = {}
        self._models: set[str] = set()

    def model(self, name: str, status: int = 200) -> str:
        """`name` as a label value (bounded: see MAX_MODELS), for a request answered with `status`."""
        if not name or name in self._models:  # "": a route that names no model
            return name
        if status == 404 or len(name) > MAX_MODEL_CHARS or not MODEL_CHARS.fullmatch(name):
            return UNKNOWN
        if len(self._models) >= MAX_MODELS:
            return OTHER
        self._models.add(name)
        return name

    def request(self, route: str, model: str, status: int, seconds: float) -> None:
        model = self.model(model, status)
        key = (route, model, status)
        self._requests[key] = self._requests.get(key, 0) + 1
        if (hist := self._duration.get((route, model))) is None:
            hist = self._duration[route, model] = _Histogram()
        hist.observe(seconds)

    def first_chunk(self, route: str, model: str, seconds: float) -> None:
        model = self.model(model)
        if (hist := self._first_chunk.get((route, model))) is None:
            hist = self._first_chunk[route, model] = _Histogram()
        hist.observe(seconds)

    def tokens(self, model: str, *, prompt: int, completion: int) -> None:
        model = self.model(model)
        for kind, count in (("input", prompt), ("output", completion)):
            self._tokens[model, kind] = self._tokens.get((model, kind), 0) + count

    def stream_opened(self, route: str) -> None:
        self._streams_open[route] = self._streams_open.get(route, 0) + 1

    def stream_closed(self, route: str) -> None:
        self._streams_open[route] -= 1

    def totals(self) -> tuple[int, int, float]:
        """(requests, those answered with an error status, seconds spent on all of them)."""
        errors = sum(n for (_, _, status), n in self._requests.items() if status >= 400)
        return sum(self._requests.values()), errors, sum(h.sum for h in self._duration.values())

    def snapshot(self) -> MetricsSnapshot:
        def histograms(table: dict[tuple[str, str], _Histogram]) -> list[HistogramSample]:
            return [HistogramSample(labels={"route": r, "model": m}, buckets=list(h.counts), sum=h.sum,
                                    count=sum(h.counts)) for (r, m), h in table.items()]

        return MetricsSnapshot(families=[
            Family(name="vivian_requests_total", type="counter",
                   help="Requests answered, by route, model and status (an error inside a stream counts "
                        "with its own status).",
                   samples=[Sample(labels={"route": r, "model": m, "status": str(s)}, value=n)
                            for (r, m, s), n in self._requests.items()]),
            Family(name="vivian_request_duration_seconds", type="histogram",
                   help="Time from request to the end of its answer (the whole stream for streams).",
                   bounds=list(LATENCY_BOUNDS), histograms=histograms(self._duration)),
            Family(name="vivian_time_to_first_chunk_seconds", type="histogram",
                   help="Time from request to the first chunk of a streamed answer.",
                   bounds=list(LATENCY_BOUNDS), histograms=histograms(self._first_chunk)),
            Family(name="vivian_tokens_total", type="counter",
                   help="Tokens the models reported in usage: input (prompt) and output (completion).",
                   samples=[Sample(labels={"model": m, "kind": k}, value=n) for (m, k), n in self._tokens.items()]),
            Family(name="vivian_streams_open", type="gauge", help="Streamed answers in progress.",
                   samples=[Sample(labels={"route": r}, value=n) for r, n in self._streams_open.items()]),
        ])


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(labels: dict[str, str], **extra: str) -> str:
    pairs = [f'{k}="{_escape(v)}"' for k, v in (labels | extra).items()]
    return "{" + ",".join(pairs) + "}" if pairs else ""


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def render(snapshot: MetricsSnapshot) -> str:
    """The Prometheus text exposition format (version 0.0.4)."""
    lines = []
    for family in snapshot.families:
        lines += [f"# HELP {family.name} {family.help}", f"# TYPE {family.name} {family.type}"]
        for sample in family.samples:
            lines.append(f"{family.name}{_labels(sample.labels)} {_number(sample.value)}")
        for hist in family.histograms:
            cumulative = 0
            for bound, count in zip([*family.bounds, None], hist.buckets):
                cumulative += count
                le = "+Inf" if bound is None else _number(bound)
                lines.append(f"{family.name}_bucket{_labels(hist.labels, le=le)} {cumulative}")
            lines.append(f"{family.name}_sum{_labels(hist.labels)} {_number(hist.sum)}")
            lines.append(f"{family.name}_count{_labels(hist.labels)} {hist.count}")
    return "\n".join(lines) + "\n"
