"""Ingestion is durable: a vector stores service killed with SIGKILL in the middle of ingesting a
file leaves it to the next replica (JetStream redelivers the task), and the file ends `completed`
with each chunk once; a file whose ingestion keeps failing ends `failed`, never stuck `in_progress`."""

import time

from devstack import processes
from services.vector_stores.chunking import Chunker, Static
from tests.stack import TOKENIZER
from tests.vector_stores_fixtures import start_vector_stores

STATIC = {"type": "static", "static": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 0}}


def wait_ended(client, store_id: str, file_id: str, timeout: float = 300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        file = client.vector_stores.files.retrieve(file_id, vector_store_id=store_id)
        if file.status != "in_progress":
            return file
        time.sleep(0.3)
    raise AssertionError(f"{file_id} still in_progress after {timeout}s")


def test_kill_9_mid_ingestion_ends_completed_without_duplicates(vector_stack):
    built = vector_stack(ack_wait=2, ingest_workers=1, embedding_batch=8)
    client = built.client
    text = " ".join(f"Line {i} tells about topic {i % 97} and the number {i * 7}." for i in range(3000))
    expected = Chunker(TOKENIZER).chunks(text, Static(100, 0))
    uploaded = client.files.create(file=("big.txt", text.encode()), purpose="assistants")
    store = client.vector_stores.create(name="crash", file_ids=[uploaded.id], chunking_strategy=STATIC)
    victim = built.vectors.procs[0]
    processes.wait_for_line(built.stack.log("vector_stores"), "ingesting", proc=victim, timeout=120)
    time.sleep(1.0)  # some chunks embedded and maybe written, not all
    victim.kill()
    victim.wait()
    built.vectors.procs.remove(victim)
    [record] = built.vectors.records("vector_store_files")
    assert record["status"] == "in_progress"  # the service died with the file half done

    start_vector_stores(built.stack, built.vectors, log="vector_stores-2")
    file = wait_ended(client, store.id, uploaded.id)
    assert file.status == "completed", file.last_error
    chunks = [part.text for part in client.vector_stores.files.content(uploaded.id, vector_store_id=store.id).data]
    assert chunks == expected  # every chunk, each once, in order
    assert "attempt 2" in built.stack.read_log("vector_stores-2")
    hit = client.vector_stores.search(store.id, query="the number 20993", max_num_results=1).data[0]
    assert "Line 2999 " in hit.content[0].text


def test_ingestion_that_keeps_failing_ends_failed(vector_stack):
    built = vector_stack(ack_wait=2, ingest_attempts=2)
    processes.stop(built.stack.procs.pop("embeddings"))  # no vectors can be made
    client = built.client
    store = client.vector_stores.create(name="failing")
    file = client.vector_stores.files.create(
        vector_store_id=store.id, file_id=client.files.create(file=("a.txt", b"words"), purpose="assistants").id)
    file = wait_ended(client, store.id, file.id, timeout=120)
    assert file.status == "failed" and file.last_error.code == "server_error"
    assert client.vector_stores.retrieve(store.id).file_counts.failed == 1
