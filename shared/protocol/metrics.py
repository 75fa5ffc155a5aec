"""A snapshot of a process's metrics: what the edge renders at `/metrics` and what each service
puts in the `data` of its NATS micro `$SRV.STATS` endpoints, so both read the same."""

from typing import Literal

import msgspec


class Sample(msgspec.Struct, kw_only=True):
    labels: dict[str, str]
    value: float


class HistogramSample(msgspec.Struct, kw_only=True):
    labels: dict[str, str]
    # Observations per bucket, not cumulative: buckets[i] counted values ≤ bounds[i] and above the
    # bound before; the last entry is everything above the last bound.
    buckets: list[int]
    sum: float
    count: int


class Family(msgspec.Struct, kw_only=True, omit_defaults=True):
    name: str
    type: Literal["counter", "gauge", "histogram"]
    help: str
    samples: list[Sample] = []
    bounds: list[float] = []
    histograms: list[HistogramSample] = []


class MetricsSnapshot(msgspec.Struct, kw_only=True):
    families: list[Family] = []
