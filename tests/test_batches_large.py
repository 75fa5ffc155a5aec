"""Big batches: input read and output written as streams. The default run pushes several hundred
cheap lines through the session stack; the slow run pushes OpenAI's maximum, 50,000, and checks
the jobs service's peak memory barely moves."""

import time

import pytest

from tests.batch_helpers import request_line, upload, wait


def _peak_rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))


def _run(client, count: int, *, timeout: float):
    lines = [request_line(f"line-{i}", "/v1/moderations", {"input": f"a friendly sentence, number {i}"})
             for i in range(count)]
    batch = client.batches.create(input_file_id=upload(client, lines), endpoint="/v1/moderations",
                                  completion_window="24h")
    ended = wait(client, batch.id, timeout=timeout)
    assert ended.status == "completed", ended
    assert (ended.request_counts.total, ended.request_counts.completed) == (count, count)
    assert ended.error_file_id is None
    # The output streamed back line by line, in input order.
    expected = 0
    with client.files.with_streaming_response.content(ended.output_file_id) as response:
        for line in response.iter_lines():
            if line:
                assert f'"custom_id":"line-{expected}"' in line
                assert '"status_code":200' in line
                expected += 1
    assert expected == count
    return ended


def test_hundreds_of_lines_stream_through(jobs, project_client):
    client, _ = project_client(recorded=False)
    _run(client, 600, timeout=600)


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_fifty_thousand_lines_in_bounded_memory(jobs, project_client):
    """OpenAI's maximum, 50,000 lines. To take minutes rather than an hour on 2 cores, most lines
    are refused at once by the embeddings service (`dimensions` it cannot give: a real 400 answer
    in the error file) and every 50th really runs; both files are streamed out."""
    client, _ = project_client(recorded=False)
    pid = jobs.procs[0].pid
    _run(client, 2000, timeout=600)  # warm: every code path has run once
    count, real = 50_000, 50
    lines = [request_line(f"line-{i}", "/v1/embeddings", {"model": "text-embedding-3-small", "input": f"line {i}",
                                                          **({} if i % real == 0 else {"dimensions": 5000})})
             for i in range(count)]
    before = _peak_rss_kib(pid)
    started = time.monotonic()
    batch = client.batches.create(input_file_id=upload(client, lines), endpoint="/v1/embeddings",
                                  completion_window="24h")
    ended = wait(client, batch.id, timeout=3000)
    grown = _peak_rss_kib(pid) - before
    print(f"50,000 lines in {time.monotonic() - started:.0f}s; the jobs service's peak RSS grew {grown / 1024:.1f} MiB")
    assert ended.status == "completed", ended
    counts = ended.request_counts
    assert (counts.total, counts.completed, counts.failed) == (count, count // real, count - count // real)
    for file_id, expected in ((ended.output_file_id, range(0, count, real)),
                              (ended.error_file_id, (i for i in range(count) if i % real))):
        with client.files.with_streaming_response.content(file_id) as response:
            ids = [line.split('"custom_id":"', 1)[1].split('"', 1)[0] for line in response.iter_lines() if line]
        assert ids == [f"line-{i}" for i in expected]
    assert grown < 64 * 1024, f"the jobs service's peak memory grew {grown} KiB"
