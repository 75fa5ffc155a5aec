"""/v1/files through the edge with the openai SDK: upload, list, retrieve, content, delete, expiry,
and ownership by project. Every answer is also checked against OpenAI's schemas (conformance)."""

import dataclasses
import time

import msgspec
import openai
import pytest

from shared.protocol.bus import Envelope
from shared.protocol.files import FileList, FileListQuery
from tests.stack import make_key

pytestmark = pytest.mark.usefixtures("files")

DAY = 24 * 3600


def test_upload_retrieve_content_delete(project_client, files):
    client, project = project_client()
    data = bytes(range(256)) * 40 + b"\x00tail"
    created = client.files.create(file=("notes é.bin", data), purpose="assistants")
    assert created.id.startswith("file-") and len(created.id) > 20
    assert (created.object, created.bytes, created.filename) == ("file", len(data), "notes é.bin")
    assert (created.purpose, created.status, created.expires_at) == ("assistants", "processed", None)
    assert abs(created.created_at - time.time()) < 60

    assert client.files.retrieve(created.id) == created
    assert client.files.content(created.id).content == data
    assert [f.id for f in client.files.list()] == [created.id]

    # Behind the API: one ready record, one object of exactly these bytes.
    (record,) = files.records("files", {"project": project})
    assert record["state"] == "ready"
    assert files.objects(f"{project}/") == {record["key"]: len(data)}

    deleted = client.files.delete(created.id)
    assert (deleted.id, deleted.object, deleted.deleted) == (created.id, "file", True)
    for call in (client.files.retrieve, client.files.content, client.files.delete):
        with pytest.raises(openai.NotFoundError) as caught:
            call(created.id)
        assert caught.value.body["param"] == "id"
    assert list(client.files.list()) == []
    assert files.records("files", {"project": project}) == []
    assert files.objects(f"{project}/") == {}


def test_every_purpose_and_its_expiry(project_client):
    client, project = project_client()
    for purpose in ("assistants", "fine-tune", "vision", "user_data"):
        created = client.files.create(file=(f"{purpose}.jsonl", b'{"a": 1}\n'), purpose=purpose)
        assert (created.purpose, created.expires_at) == (purpose, None)
    # OpenAI takes `evals` files but its file schema's purpose enum lacks the value: not recorded.
    unrecorded, _ = project_client(project, recorded=False)
    assert unrecorded.files.create(file=("e.jsonl", b"{}"), purpose="evals").purpose == "evals"
    # OpenAI: batch files expire after 30 days unless `expires_after` says otherwise.
    batch = client.files.create(file=("in.jsonl", b'{"custom_id": "1"}\n{"custom_id": "2"}'), purpose="batch")
    assert batch.expires_at == batch.created_at + 30 * DAY
    hour = client.files.create(file=("in.jsonl", b"{}\n"), purpose="batch",
                               expires_after={"anchor": "created_at", "seconds": 3600})
    assert hour.expires_at == hour.created_at + 3600
    kept = client.files.create(file=("a.txt", b"a"), purpose="user_data",
                               expires_after={"anchor": "created_at", "seconds": 2 * DAY})
    assert client.files.retrieve(kept.id).expires_at == kept.created_at + 2 * DAY


def test_list_pages_orders_and_filters(project_client):
    client, _ = project_client()
    made = [client.files.create(file=(f"f{i}.txt", b"x" * (i + 1)), purpose="user_data" if i % 2 else "assistants")
            for i in range(5)]
    newest_first = [f.id for f in reversed(made)]

    page = client.files.list(limit=2)
    assert [f.id for f in page.data] == newest_first[:2]
    assert (page.has_more, page.first_id, page.last_id) == (True, newest_first[0], newest_first[1])
    rest = client.files.list(limit=2, after=page.last_id)
    assert [f.id for f in rest.data] == newest_first[2:4]
    last = client.files.list(limit=2, after=rest.last_id)
    assert ([f.id for f in last.data], last.has_more) == (newest_first[4:], False)

    # The SDK's auto-pagination follows `after` until `has_more` is false.
    assert [f.id for f in client.files.list(limit=2)] == newest_first
    assert [f.id for f in client.files.list(order="asc", limit=3)] == [f.id for f in made]
    assert [f.id for f in client.files.list(purpose="user_data")] == [made[3].id, made[1].id]

    with pytest.raises(openai.BadRequestError) as caught:
        client.files.list(limit=0)
    assert caught.value.body["param"] == "limit"
    with pytest.raises(openai.BadRequestError) as caught:
        client.files.list(order="sideways")
    assert caught.value.body["param"] == "order"


def test_another_projects_key_sees_nothing(stack, project_client):
    owner, _ = project_client()
    other, _ = project_client("proj_other")
    mine = owner.files.create(file=("secret.txt", b"mine"), purpose="user_data")
    for call in (other.files.retrieve, other.files.content, other.files.delete):
        with pytest.raises(openai.NotFoundError) as caught:
            call(mine.id)
        assert caught.value.body["message"] == f"No such File object: {mine.id}"
    assert mine.id not in [f.id for f in other.files.list()]
    # A second key of the owner's own project sees it: files belong to projects, not keys.
    assert owner.files.retrieve(mine.id).id == mine.id
    assert owner.files.content(mine.id).content == b"mine"


def test_a_key_of_the_same_project_shares_its_files(stack, project_client):
    client, project = project_client()
    made = client.files.create(file=("shared.txt", b"ours"), purpose="user_data")
    colleague = openai.OpenAI(base_url=stack.base_url, api_key=make_key(stack.nats_url, project=project),
                              max_retries=0)
    assert colleague.files.content(made.id).content == b"ours"


async def test_expired_files_disappear_and_the_sweep_removes_their_bytes(project_client, files, files_context):
    from services.files import janitor

    client, project = project_client()
    made = client.files.create(file=("soon.jsonl", b"{}\n"), purpose="batch",
                               expires_after={"anchor": "created_at", "seconds": 3600})
    keep = client.files.create(file=("keep.txt", b"k"), purpose="user_data")
    swept = await janitor.sweep(files_context, now=made.expires_at + 1)
    assert swept.removed >= 1
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(made.id)
    assert [f.id for f in client.files.list()] == [keep.id]
    assert [r["_id"] for r in files.records("files", {"project": project})] == [keep.id]
    assert list(files.objects(f"{project}/")) == [f"{project}/files/{keep.id}"]


def test_content_streams_with_length_and_filename(stack, project_client):
    client, _ = project_client()
    made = client.files.create(file=("report.jsonl", b'{"x": 1}\n'), purpose="user_data")
    with client.files.with_streaming_response.content(made.id) as response:
        assert response.headers["content-length"] == "9"
        assert response.headers["content-type"] == "application/octet-stream"
        assert 'filename="report.jsonl"' in response.headers["content-disposition"]
        assert response.read() == b'{"x": 1}\n'


async def test_a_page_is_cut_to_fit_one_bus_message(project_client, files_context):
    """An answer rides one NATS message (about 1 MiB): a page that would not fit is cut short, and
    `has_more` sends the client back for the rest. Here the limit is shrunk to two files' worth."""
    from services.files import files as handlers

    client, project = project_client()
    made = [client.files.create(file=("n" * 2000 + ".txt", b"x"), purpose="user_data") for _ in range(3)]
    ctx = dataclasses.replace(files_context, page_budget=4600)

    async def page(after: str | None = None) -> FileList:
        body = msgspec.json.encode(FileListQuery(after=after))
        return await handlers.list_files(ctx, Envelope(request_id="req_test", project=project, body=msgspec.Raw(body)))

    first = await page()
    assert ([f.id for f in first.data], first.has_more) == ([made[2].id, made[1].id], True)
    rest = await page(after=first.last_id)
    assert ([f.id for f in rest.data], rest.has_more) == ([made[0].id], False)
