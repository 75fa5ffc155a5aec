"""/v1/vector_stores through the edge with the official SDK: stores, their files and file batches,
ingestion of each kind of file, search with filters, hybrid ranking and ownership."""

import time

import openai
import pytest

from services.vector_stores.chunking import Chunker, Static
from tests import vector_files
from tests.stack import TOKENIZER

POLL = 200  # ms between the SDK's polls

FACTS = {
    "volcano.txt": "Mount Kilauea is an active shield volcano on the island of Hawaii. Lava flows reach the ocean.",
    "rocket.md": "# Rockets\n\nA **liquid-fuel rocket** burns kerosene with liquid oxygen in its combustion chamber.",
    "bread.html": "<html><body><h1>Sourdough</h1><p>Sourdough bread rises with a wild yeast starter.</p></body></html>",
}


@pytest.fixture(scope="module")
def client(vs_client) -> openai.OpenAI:
    return vs_client()


@pytest.fixture(scope="module")
def library(client):
    """A store with three small files (one per kind), each with attributes."""
    store = client.vector_stores.create(name="library", metadata={"topic": "mixed"})
    for n, (name, text) in enumerate(FACTS.items()):
        done = client.vector_stores.files.upload_and_poll(
            vector_store_id=store.id, file=(name, text.encode()), poll_interval_ms=POLL,
            attributes={"kind": name.rsplit(".", 1)[1], "rank": n, "public": n != 1})
        assert done.status == "completed", done.last_error
    return store


def test_store_lifecycle(client):
    store = client.vector_stores.create(name="first", metadata={"a": "1"},
                                        expires_after={"anchor": "last_active_at", "days": 7})
    assert store.object == "vector_store" and store.status == "completed" and store.file_counts.total == 0
    assert store.expires_after.days == 7 and store.expires_at == store.last_active_at + 7 * 86400
    again = client.vector_stores.retrieve(store.id)
    assert (again.id, again.name, again.metadata) == (store.id, "first", {"a": "1"})
    updated = client.vector_stores.update(store.id, name="renamed", metadata={"b": "2"})
    assert (updated.name, updated.metadata) == ("renamed", {"b": "2"})
    assert client.vector_stores.delete(store.id).deleted
    with pytest.raises(openai.NotFoundError):
        client.vector_stores.retrieve(store.id)


def test_list_pages(vs_client):
    client = vs_client()
    made = [client.vector_stores.create(name=f"s{n}").id for n in range(3)]
    first = client.vector_stores.list(limit=2)
    assert [s.id for s in first.data] == made[::-1][:2] and first.has_more
    assert [s.id for s in client.vector_stores.list(limit=2, after=first.data[-1].id).data] == made[:1]
    assert [s.id for s in client.vector_stores.list(order="asc")] == made
    assert [s.id for s in client.vector_stores.list(before=made[0], limit=5).data] == made[1:][::-1]


def test_another_project_gets_404(client, vs_client, library):
    other = vs_client()
    with pytest.raises(openai.NotFoundError):
        other.vector_stores.retrieve(library.id)
    with pytest.raises(openai.NotFoundError):
        other.vector_stores.search(library.id, query="volcano")
    assert library.id not in [s.id for s in other.vector_stores.list()]


def test_search_finds_the_right_file(client, library):
    page = client.vector_stores.search(library.id, query="Which volcano is on Hawaii?")
    top = page.data[0]
    assert top.filename == "volcano.txt" and "Kilauea" in top.content[0].text
    assert top.attributes == {"kind": "txt", "rank": 0, "public": True} and 0 < top.score <= 1
    dense = client.vector_stores.search(library.id, query="kerosene and liquid oxygen",
                                        ranking_options={"ranker": "none"})
    assert dense.data[0].filename == "rocket.md"


def test_search_filters(client, library):
    def files(filters, query="facts"):
        return {r.filename for r in client.vector_stores.search(library.id, query=query, filters=filters).data}

    assert files({"type": "eq", "key": "kind", "value": "md"}) == {"rocket.md"}
    assert files({"type": "ne", "key": "kind", "value": "md"}) == {"volcano.txt", "bread.html"}
    assert files({"type": "gte", "key": "rank", "value": 1}) == {"rocket.md", "bread.html"}
    assert files({"type": "lt", "key": "rank", "value": 1}) == {"volcano.txt"}
    assert files({"type": "in", "key": "kind", "value": ["txt", "html"]}) == {"volcano.txt", "bread.html"}
    assert files({"type": "nin", "key": "kind", "value": ["txt", "html"]}) == {"rocket.md"}
    assert files({"type": "and", "filters": [{"type": "eq", "key": "public", "value": True},
                                             {"type": "gt", "key": "rank", "value": 0}]}) == {"bread.html"}
    assert files({"type": "or", "filters": [{"type": "eq", "key": "kind", "value": "md"},
                                            {"type": "lte", "key": "rank", "value": 0}]}) == {"rocket.md", "volcano.txt"}


def test_search_options(client, library):
    page = client.vector_stores.search(library.id, query=["sourdough starter", "bread"], max_num_results=1,
                                       rewrite_query=True)
    assert len(page.data) == 1 and page.data[0].filename == "bread.html"
    assert page.search_query == ["sourdough starter", "bread"]
    # first in both rankings: the fused score is 1; a cosine similarity never reaches it here
    assert client.vector_stores.search(library.id, query="volcano").data[0].score == 1.0
    assert client.vector_stores.search(library.id, query="volcano",
                                       ranking_options={"ranker": "none", "score_threshold": 1.0}).data == []
    with pytest.raises(openai.BadRequestError):
        client.vector_stores.search(library.id, query="x", max_num_results=51)


def test_file_objects_and_content(client, library):
    files = client.vector_stores.files.list(vector_store_id=library.id)
    assert len(files.data) == 3 and all(f.status == "completed" and f.usage_bytes > 0 for f in files.data)
    assert files.data[0].chunking_strategy.static.max_chunk_size_tokens == 800
    assert client.vector_stores.files.list(vector_store_id=library.id, filter="failed").data == []
    volcano = next(f for f in files.data if f.attributes["kind"] == "txt")
    content = client.vector_stores.files.content(volcano.id, vector_store_id=library.id)
    assert [part.text for part in content.data] == [FACTS["volcano.txt"]]
    store = client.vector_stores.retrieve(library.id)
    assert store.file_counts.completed == 3 and store.usage_bytes == sum(f.usage_bytes for f in files.data)


def test_update_attributes_and_remove_a_file(client):
    store = client.vector_stores.create(name="one")
    file = client.vector_stores.files.upload_and_poll(vector_store_id=store.id, file=("a.txt", b"apples and pears"),
                                                      poll_interval_ms=POLL)
    changed = client.vector_stores.files.update(file.id, vector_store_id=store.id, attributes={"fruit": "yes"})
    assert changed.attributes == {"fruit": "yes"}
    hits = client.vector_stores.search(store.id, query="apples", filters={"type": "eq", "key": "fruit", "value": "yes"})
    assert [h.file_id for h in hits.data] == [file.id]
    assert client.vector_stores.files.delete(file.id, vector_store_id=store.id).deleted
    assert client.vector_stores.search(store.id, query="apples").data == []
    with pytest.raises(openai.NotFoundError):
        client.vector_stores.files.retrieve(file.id, vector_store_id=store.id)


def test_each_kind_of_file_in_a_batch(client):
    store = client.vector_stores.create(name="kinds")
    batch = client.vector_stores.file_batches.upload_and_poll(store.id, poll_interval_ms=POLL, files=[
        ("report.pdf", vector_files.pdf("Quarterly revenue grew by twelve percent")),
        ("memo.docx", vector_files.docx("The office moves to Lisbon in March")),
        ("deck.pptx", vector_files.pptx("Roadmap: launch the glider in autumn")),
        ("config.json", b'{"database": {"engine": "postgres", "replicas": 3}}'),
        ("script.py", b"def fibonacci(n):\n    return n if n < 2 else fibonacci(n - 1) + fibonacci(n - 2)\n"),
        ("photo.png", b"\x89PNG\r\n\x1a\n not really"),
    ])
    assert batch.object == "vector_store.files_batch" and batch.status == "completed"
    assert (batch.file_counts.completed, batch.file_counts.failed, batch.file_counts.total) == (5, 1, 6)
    failed = client.vector_stores.file_batches.list_files(batch.id, vector_store_id=store.id, filter="failed").data
    assert len(failed) == 1 and failed[0].last_error.code == "unsupported_file"
    for query, name in [("revenue growth", "report.pdf"), ("Lisbon office", "memo.docx"), ("glider launch", "deck.pptx"),
                        ("postgres replicas", "config.json"), ("fibonacci function", "script.py")]:
        assert client.vector_stores.search(store.id, query=query).data[0].filename == name, query


def test_create_with_files_and_static_chunking(client):
    text = " ".join(f"sentence number {i} is here." for i in range(300)).encode()
    uploaded = client.files.create(file=("long.txt", text), purpose="assistants")
    store = client.vector_stores.create(name="static", file_ids=[uploaded.id], chunking_strategy={
        "type": "static", "static": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 20}})
    assert store.file_counts.total == 1
    file = client.vector_stores.files.poll(uploaded.id, vector_store_id=store.id, poll_interval_ms=POLL)
    assert file.status == "completed"
    assert file.chunking_strategy.static.max_chunk_size_tokens == 100
    chunks = client.vector_stores.files.content(uploaded.id, vector_store_id=store.id).data
    assert len(chunks) > 10 and chunks[0].text.startswith("sentence number 0")


def test_a_long_chunk_is_searchable_to_its_end(client):
    """A 1,000-token chunk is four times MiniLM's window: its end is embedded too, not cut off."""
    words = " ".join(f"filler{i}" for i in range(450))
    text = (words + " The secret password is marmalade-umbrella.").encode()
    store = client.vector_stores.create(name="long")
    client.vector_stores.files.upload_and_poll(vector_store_id=store.id, file=("long.txt", text), poll_interval_ms=POLL,
                                               chunking_strategy={"type": "static", "static": {
                                                   "max_chunk_size_tokens": 4096, "chunk_overlap_tokens": 0}})
    other = client.vector_stores.files.upload_and_poll(vector_store_id=store.id, poll_interval_ms=POLL,
                                                       file=("other.txt", b"filler1 filler2 filler3 cats"))
    assert other.status == "completed"
    page = client.vector_stores.search(store.id, query="secret password marmalade umbrella",
                                       ranking_options={"ranker": "none"})
    assert page.data[0].filename == "long.txt" and page.data[0].content[0].text.endswith("marmalade-umbrella.")


@pytest.mark.parametrize("strategy", [
    {"type": "static", "static": {"max_chunk_size_tokens": 99, "chunk_overlap_tokens": 0}},
    {"type": "static", "static": {"max_chunk_size_tokens": 800, "chunk_overlap_tokens": 401}},
])
def test_bad_chunking_is_400(client, strategy):
    with pytest.raises(openai.BadRequestError) as caught:
        client.vector_stores.create(name="bad", chunking_strategy=strategy)
    assert caught.value.body["param"] == "chunking_strategy"


def test_unknown_file_is_400(client):
    store = client.vector_stores.create(name="x")
    with pytest.raises(openai.BadRequestError) as caught:
        client.vector_stores.files.create(vector_store_id=store.id, file_id="file-nope")
    assert caught.value.body["code"] == "file_not_found"


def test_batch_cancel(client):
    store = client.vector_stores.create(name="cancel")
    ids = [client.files.create(file=(f"f{n}.txt", f"text {n}".encode()), purpose="assistants").id for n in range(3)]
    batch = client.vector_stores.file_batches.create(store.id, file_ids=ids)
    cancelled = client.vector_stores.file_batches.cancel(batch.id, vector_store_id=store.id)
    assert cancelled.status in ("cancelled", "completed")  # it may have ended before the cancel came
    done = client.vector_stores.file_batches.poll(batch.id, vector_store_id=store.id, poll_interval_ms=POLL)
    assert done.file_counts.in_progress == 0
    assert client.vector_stores.file_batches.retrieve(batch.id, vector_store_id=store.id).id == batch.id


def test_adding_a_file_again_reingests_it(client):
    """The second addition (another chunking) replaces the first, even while the first is still being
    ingested: in the end the content is the second's chunks, each once."""
    text = " ".join(f"word{i}" for i in range(400))
    uploaded = client.files.create(file=("again.txt", text.encode()), purpose="assistants")
    store = client.vector_stores.create(name="again", file_ids=[uploaded.id])
    again = client.vector_stores.files.create_and_poll(uploaded.id, vector_store_id=store.id, poll_interval_ms=POLL,
                                                       chunking_strategy={"type": "static", "static": {
                                                           "max_chunk_size_tokens": 100, "chunk_overlap_tokens": 0}})
    assert again.status == "completed" and again.chunking_strategy.static.max_chunk_size_tokens == 100
    expected = Chunker(TOKENIZER).chunks(text, Static(100, 0))
    deadline = time.monotonic() + 60
    while True:  # what the first ingestion wrote goes when it ends, which may be a moment later
        chunks = [part.text for part in client.vector_stores.files.content(uploaded.id, vector_store_id=store.id).data]
        if chunks == expected or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert chunks == expected
    assert client.vector_stores.retrieve(store.id).file_counts.total == 1


def test_metadata_and_attribute_keys_mongodb_cannot_hold_are_400(client, library):
    """A key with a NUL byte (MongoDB cannot store it as a field name) was a 500 from the store; the
    long fuzz run found it. Now it is the client's 400, naming the field."""
    with pytest.raises(openai.BadRequestError) as caught:
        client.vector_stores.create(name="nul", metadata={"a\x00b": "x"})
    assert caught.value.status_code == 400 and caught.value.body["param"].startswith("metadata")
    store = client.vector_stores.create(name="nul-attributes")
    with pytest.raises(openai.BadRequestError) as caught:
        client.vector_stores.files.create(vector_store_id=store.id,
                                          file_id=client.vector_stores.files.list(library.id).data[0].id,
                                          attributes={"k\x00": "v"})
    assert caught.value.status_code == 400 and caught.value.body["param"].startswith("attributes")
    client.vector_stores.delete(store.id)
