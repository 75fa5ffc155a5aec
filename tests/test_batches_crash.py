"""Durability: kill -9 the jobs service, and then the model service, in the middle of a batch and
start them again: the batch completes, every custom_id appears exactly once in the output or error
file, and request_counts add up. Two jobs replicas share the rest of the work."""

import os
import secrets
import time
from collections import Counter

import msgspec
from pymongo import MongoClient

from services.jobs.batches.tables import BatchRecord
from tests.batch_helpers import read_lines, request_line, upload, wait
from tests.jobs_fixtures import start_jobs

LINES = 1000
FAILING = {f"id-{i}" for i in range(7, LINES, 97)}  # refused by the embeddings service: go to the error file


def _lines() -> list[dict]:
    return [request_line(f"id-{i}", "/v1/embeddings",
                         {"model": "text-embedding-3-small", "input": f"line {i} of the batch",
                          **({"dimensions": 5000} if f"id-{i}" in FAILING else {})})
            for i in range(LINES)]


def _wait_for_progress(client, batch_id: str, above: int, timeout: float = 300):
    deadline = time.monotonic() + timeout
    while True:
        batch = client.batches.retrieve(batch_id)
        done = batch.request_counts.completed + batch.request_counts.failed
        if done > above:
            assert batch.status == "in_progress", f"the batch ended before the kill: {batch}"
            return done
        assert time.monotonic() < deadline, f"no progress past {above}: {batch}"
        time.sleep(0.2)


def test_kill_jobs_and_model_service_mid_batch(batch_stack):
    b = batch_stack(batch_chunk_lines=10, ack_wait=3, call_idle_timeout=3, batch_workers=2,
                    batch_line_concurrency=2, batch_model_concurrency=2)
    client = b.client
    batch = client.batches.create(input_file_id=upload(client, _lines()), endpoint="/v1/embeddings",
                                  completion_window="24h")

    # kill -9 the only jobs replica mid-batch; two come back and share what is left.
    done = _wait_for_progress(client, batch.id, above=30)
    victim = b.jobs.procs.pop()
    victim.kill()
    victim.wait()
    start_jobs(b.stack, b.jobs, log="jobs-2")
    start_jobs(b.stack, b.jobs, log="jobs-3")

    # kill -9 the model service mid-batch; lines wait for it instead of failing.
    done = _wait_for_progress(client, batch.id, above=done + 100)
    model = b.stack.procs.pop("embeddings")
    model.kill()
    model.wait()
    time.sleep(2)
    os.replace(b.stack.log("embeddings"), b.stack.log("embeddings-killed"))
    b.stack.start_service("embeddings")

    ended = wait(client, batch.id, timeout=600)
    assert ended.status == "completed", ended
    out, errors = read_lines(client, ended.output_file_id), read_lines(client, ended.error_file_id)
    seen = Counter(line["custom_id"] for line in out + errors)
    assert set(seen) == {f"id-{i}" for i in range(LINES)} and max(seen.values()) == 1  # each exactly once
    assert {line["custom_id"] for line in errors} == FAILING
    assert all(line["response"]["status_code"] == 400 for line in errors)
    assert all(line["response"]["status_code"] == 200 for line in out)
    counts = ended.request_counts
    assert (counts.total, counts.completed, counts.failed) == (LINES, LINES - len(FAILING), len(FAILING))
    # The two new replicas shared the rest.
    for name in ("jobs-2", "jobs-3"):
        assert f"batch {batch.id} chunk" in b.stack.read_log(name), name


def test_a_batch_whose_task_was_never_queued_still_runs(jobs, project_client):
    """As if a jobs replica died between writing a new batch and queueing its validation: the
    sweep queues it again and the batch completes."""
    client, project = project_client()
    input_id = upload(client, [request_line("only", "/v1/moderations", {"input": "hello"})])
    now = int(time.time())
    created = now - 60
    batch_id = f"batch_orphan{secrets.token_hex(6)}"
    record = BatchRecord(id=batch_id, project=project, seq=f"{created * 10**9:020d}{batch_id}",
                         endpoint="/v1/moderations", input_file_id=input_id, completion_window="24h",
                         status="validating", created_at=created, expires_at=created + 24 * 3600)
    with MongoClient(jobs.env["VIVIAN_MONGO_URL"], serverSelectionTimeoutMS=5000) as mongo:
        mongo.get_default_database()["batches"].insert_one(msgspec.to_builtins(record))  # as create writes it
    ended = wait(client, batch_id, timeout=120)
    assert ended.status == "completed" and ended.request_counts.completed == 1
