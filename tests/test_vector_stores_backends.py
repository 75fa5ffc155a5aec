"""The vector stores service on its server backend (qdrant-client; here its local mode, as no
Qdrant server installs on this machine), and `expires_after` removing an idle store's vectors.
Each test runs a private stack."""

import time

import openai
import pytest


def test_server_backend_ingests_searches_and_removes(vector_stack):
    built = vector_stack(vector_backend="server", qdrant_url=":memory:")
    client = built.client
    store = client.vector_stores.create(name="server")
    file = client.vector_stores.files.upload_and_poll(
        vector_store_id=store.id, poll_interval_ms=200, attributes={"lang": "en"},
        file=("cheese.md", b"# Cheese\n\nGruyere is a hard Swiss cheese named after the town of Gruyeres."))
    assert file.status == "completed"
    hit = client.vector_stores.search(store.id, query="Swiss cheese", filters={"type": "eq", "key": "lang",
                                                                              "value": "en"}).data[0]
    assert hit.filename == "cheese.md" and "Gruyere" in hit.content[0].text
    assert "vectors: server backend" in built.stack.read_log("vector_stores")
    client.vector_stores.files.delete(file.id, vector_store_id=store.id)
    assert client.vector_stores.search(store.id, query="Swiss cheese").data == []


def test_an_idle_store_expires_and_loses_its_vectors(vector_stack):
    built = vector_stack(expiry_day=2, sweep_interval=0.5)  # "days": 2 seconds each
    client = built.client
    store = client.vector_stores.create(name="brief", expires_after={"anchor": "last_active_at", "days": 1})
    client.vector_stores.files.upload_and_poll(vector_store_id=store.id, poll_interval_ms=200,
                                               file=("a.txt", b"The lighthouse keeper lights the lamp at dusk."))
    assert client.vector_stores.search(store.id, query="lighthouse").data  # and it stays active a while longer
    deadline = time.monotonic() + 60
    while client.vector_stores.retrieve(store.id).status != "expired":
        assert time.monotonic() < deadline, "the store did not expire"
        time.sleep(0.3)
    with pytest.raises(openai.BadRequestError):
        client.vector_stores.search(store.id, query="lighthouse")
    with pytest.raises(openai.BadRequestError):
        client.vector_stores.files.upload_and_poll(vector_store_id=store.id, file=("b.txt", b"more"))
    assert client.vector_stores.delete(store.id).deleted
