"""A quick run of the overhead bench's parts (the bench itself is `make bench`, not a test): the stub
upstream answers what a client expects, the load generator measures it, the report renders."""

import os
import socket
import sys
import time

import pytest

from bench import loadgen, overhead, procstat
from devstack import processes
from tests.stack import free_port

CHUNKS = 5


@pytest.fixture(scope="module")
def stub_port(tmp_path_factory):
    port = free_port()
    path = os.path.join(os.path.dirname(overhead.__file__), "upstream_stub.py")
    proc = processes.spawn([sys.executable, path, "--port", str(port), "--chunks", str(CHUNKS),
                            "--chunk-interval-ms", "2"], log_path=str(tmp_path_factory.mktemp("stub") / "stub.log"))
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert proc.poll() is None and time.monotonic() < deadline, "the stub did not start"
            time.sleep(0.05)
    yield port
    processes.stop(proc)


async def test_stub_and_load_generator(stub_port):
    plain = loadgen.request_bytes(stub_port, "/v1/chat/completions", overhead.body(stream=False), key="k")
    result = await loadgen.run(stub_port, plain, concurrency=4, count=40, stream=False)
    assert (len(result.latencies), result.errors) == (40, 0) and result.rate > 0
    streamed = loadgen.request_bytes(stub_port, "/v1/chat/completions", overhead.body(stream=True), key="k")
    result = await loadgen.run(stub_port, streamed, concurrency=2, count=6, stream=True, events=CHUNKS)
    assert (len(result.first_event), result.errors) == (6, 0)
    assert result.mean_gap >= 0.0015  # the stub paces chunks 2 ms apart
    wrong = await loadgen.run(stub_port, streamed, concurrency=1, count=2, stream=True, events=CHUNKS + 1)
    assert wrong.errors == 2  # a stream with a missing chunk is counted as an error


def test_report_renders_and_judges():
    def result(latency: float, rate_wall: float) -> loadgen.Result:
        return loadgen.Result(latencies=[latency] * 10, first_event=[latency / 2] * 10,
                              mean_gaps=[0.001] * 10, wall=rate_wall)

    rows = [overhead.Row(False, 1, result(0.0002, 0.002), result(0.0012, 0.012),
                         {"edge": 0.3, "chat": 0.4, "nats": 0.1, "stub": 0.01}),
            overhead.Row(True, 1, result(0.02, 0.2), result(0.021, 0.22),
                         {"edge": 1.0, "chat": 1.0, "nats": 0.5, "stub": 0.2})]
    table = overhead.table(rows)
    assert table.count("\n") == 3 and "0.20 → 1.20 (+1.00)" in table and "= 0.80" in table
    verdicts = "\n".join(overhead.verdicts(rows, peak_edge_mib=50))
    assert "PASS added p50 latency, plain, C=1: 1.00 ms" in verdicts
    assert "PASS added time to first chunk, C=1: 0.50 ms" in verdicts
    assert "PASS peak RSS of the edge" in verdicts


def test_procstat_reads_this_process():
    assert procstat.cpu_seconds(os.getpid()) > 0
    now, peak = procstat.memory_mib(os.getpid())
    assert 0 < now <= peak
