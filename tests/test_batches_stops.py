"""Stopping a batch: a cancel stops its lines within seconds and keeps what finished; a batch past
its completion window (shortened here: `batch_window_unit=2` makes "24h" 48 seconds) ends
`expired`, its finished lines in the output file and the rest in the error file as
`batch_expired`. Chat lines on the local model, one line per chunk, one at a time."""

import os
import time

import pytest

from tests.batch_helpers import read_lines, request_line, upload, wait
from tests.jobs_fixtures import build_batch_stack
from tests.stack import Stack

WINDOW_UNIT = 2.0


@pytest.fixture(scope="module")
def chat_batches(tmp_path_factory, s3_store, mongo_url):
    b = build_batch_stack(Stack(home=str(tmp_path_factory.mktemp("batch-stops"))), s3_store, mongo_url, chat=True,
                          batch_chunk_lines=1, batch_model_concurrency=1, batch_window_unit=WINDOW_UNIT,
                          batch_stop_grace=1, sweep_interval=1)
    yield b
    b.stop()


def _story_lines(count: int) -> list[dict]:
    return [request_line(f"story-{i}", "/v1/chat/completions",
                         {"model": "gpt-4", "max_tokens": 48,
                          "messages": [{"role": "user", "content": f"Tell a long story about dragon number {i}."}]})
            for i in range(count)]


def _wait_done(client, batch_id: str, at_least: int, timeout: float = 300):
    deadline = time.monotonic() + timeout
    while (batch := client.batches.retrieve(batch_id)).request_counts.completed < at_least:
        assert batch.status in ("validating", "in_progress") and time.monotonic() < deadline, batch
        time.sleep(0.2)
    return batch


def _no_chunk_records_left(b, batch_id: str, timeout: float = 60) -> None:
    """Nothing of a batch's running state outlives it, not even a chunk that finished late."""
    deadline = time.monotonic() + timeout
    while b.jobs.records("batch_chunks", {"batch_id": batch_id}):
        assert time.monotonic() < deadline, "chunk records outlived their batch"
        time.sleep(0.5)


def test_cancel_stops_within_seconds_and_keeps_what_finished(chat_batches):
    client = chat_batches.client
    total = 40
    batch = client.batches.create(input_file_id=upload(client, _story_lines(total)),
                                  endpoint="/v1/chat/completions", completion_window="24h")
    _wait_done(client, batch.id, at_least=2)
    cancelling = client.batches.cancel(batch.id)
    assert cancelling.status == "cancelling" and cancelling.cancelling_at
    ended = wait(client, batch.id, timeout=120)
    assert ended.status == "cancelled" and ended.cancelled_at - ended.cancelling_at <= 30
    out, errors = read_lines(client, ended.output_file_id), read_lines(client, ended.error_file_id)
    counts = ended.request_counts
    assert counts.total == total and counts.completed == len(out) >= 2 and counts.failed == len(errors)
    assert len(out) < total  # it stopped well before the end
    assert all(line["response"]["body"]["choices"][0]["message"]["content"] for line in out)
    assert {e["error"]["code"] for e in errors} == {"batch_cancelled"}
    assert sorted(line["custom_id"] for line in out + errors) == sorted(f"story-{i}" for i in range(total))
    assert ended.usage.output_tokens > 0 and ended.usage.input_tokens > 0
    # Stopped for real: nothing more is answered after the cancel.
    time.sleep(3)
    assert client.batches.retrieve(batch.id).request_counts.completed == counts.completed
    _no_chunk_records_left(chat_batches, batch.id)


def test_expired_after_the_window_keeps_finished_lines(chat_batches):
    client = chat_batches.client
    total = 400  # far more than fits in the window, one line at a time
    batch = client.batches.create(input_file_id=upload(client, _story_lines(total)),
                                  endpoint="/v1/chat/completions", completion_window="24h")
    assert batch.expires_at == batch.created_at + int(24 * WINDOW_UNIT)
    ended = wait(client, batch.id, timeout=300)
    assert ended.status == "expired" and ended.expired_at >= ended.expires_at
    out, errors = read_lines(client, ended.output_file_id), read_lines(client, ended.error_file_id)
    counts = ended.request_counts
    assert (counts.total, counts.completed, counts.failed) == (total, len(out), len(errors))
    assert 0 < len(out) < total
    assert {e["error"]["code"] for e in errors} == {"batch_expired"} and all(e["response"] is None for e in errors)
    assert sorted(line["custom_id"] for line in out + errors) == sorted(f"story-{i}" for i in range(total))
    _no_chunk_records_left(chat_batches, batch.id)


def test_deleting_the_input_file_fails_the_running_batch(chat_batches):
    client = chat_batches.client
    batch = client.batches.create(input_file_id=upload(client, _story_lines(30)),
                                  endpoint="/v1/chat/completions", completion_window="24h")
    _wait_done(client, batch.id, at_least=1)
    client.files.delete(batch.input_file_id)
    ended = wait(client, batch.id, timeout=120)
    assert ended.status == "failed" and ended.failed_at
    assert [(e.code, e.param) for e in ended.errors.data] == [("file_not_found", "input_file_id")]
    _no_chunk_records_left(chat_batches, batch.id)


@pytest.mark.slow
def test_kill_the_chat_service_mid_batch(batch_stack):
    """kill -9 the chat service while its lines run: they wait for it to come back, none fails."""
    b = batch_stack(chat=True, batch_chunk_lines=1, batch_model_concurrency=1, call_idle_timeout=5)
    client, stack = b.client, b.stack
    total = 12
    batch = client.batches.create(input_file_id=upload(client, _story_lines(total)),
                                  endpoint="/v1/chat/completions", completion_window="24h")
    _wait_done(client, batch.id, at_least=2)
    chat = stack.procs.pop("chat")
    chat.kill()
    chat.wait()
    os.replace(stack.log("chat"), stack.log("chat-killed"))
    stack.start_service("chat")
    ended = wait(client, batch.id, timeout=600)
    assert ended.status == "completed", ended
    out = read_lines(client, ended.output_file_id)
    assert sorted(line["custom_id"] for line in out) == sorted(f"story-{i}" for i in range(total))
    assert ended.request_counts.completed == total and ended.error_file_id is None
