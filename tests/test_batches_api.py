"""/v1/batches: bad input gets an OpenAI-shaped 4xx naming its `param`; batches belong to the
project of the key that made them (another project gets 404 and never lists them); the list pages
by cursor, newest first."""

import openai
import pytest

from tests.batch_helpers import request_line, upload, wait

MODERATION = request_line("m", "/v1/moderations", {"input": "hello there"})


@pytest.fixture
def batch_client(jobs, project_client):
    return project_client()[0]


def create(client, **overrides):
    args = {"input_file_id": overrides.pop("input_file_id", None) or upload(client, [MODERATION]),
            "endpoint": "/v1/moderations", "completion_window": "24h", **overrides}
    return client.batches.create(**args)


@pytest.mark.parametrize("overrides, param", [
    ({"input_file_id": "file-doesnotexist"}, "input_file_id"),
    ({"endpoint": "/v1/images/generations"}, "endpoint"),
    ({"endpoint": "/v1/nothing"}, "endpoint"),
    ({"completion_window": "48h"}, "completion_window"),
    ({"metadata": {f"k{i}": "v" for i in range(17)}}, "metadata"),
    ({"metadata": {"k": "v" * 513}}, "metadata"),
    ({"metadata": {"k" * 65: "v"}}, "metadata"),
    ({"output_expires_after": {"anchor": "created_at", "seconds": 10}}, "output_expires_after.seconds"),
    ({"output_expires_after": {"anchor": "expires_at", "seconds": 3600}}, "output_expires_after.anchor"),
])
def test_bad_input_is_a_400_naming_the_param(batch_client, overrides, param):
    with pytest.raises(openai.BadRequestError) as err:
        create(batch_client, **overrides)
    assert err.value.status_code == 400
    assert err.value.body["param"] == param and err.value.body["type"] == "invalid_request_error"
    assert err.value.body["message"]


def test_missing_fields_and_wrong_purpose(batch_client):
    client = batch_client
    with pytest.raises(openai.BadRequestError) as err:
        client.post("/batches", body={"endpoint": "/v1/moderations", "completion_window": "24h"}, cast_to=object)
    assert (err.value.body["param"], err.value.body["code"]) == ("input_file_id", "missing_required_parameter")
    other = client.files.create(file=("notes.jsonl", b'{"custom_id": "x"}\n'), purpose="user_data")
    with pytest.raises(openai.BadRequestError) as err:
        create(client, input_file_id=other.id)
    assert err.value.body["param"] == "input_file_id" and "batch" in err.value.body["message"]


def test_unknown_batch_is_404(batch_client):
    with pytest.raises(openai.NotFoundError):
        batch_client.batches.retrieve("batch_nosuchthing")
    with pytest.raises(openai.NotFoundError):
        batch_client.batches.cancel("batch_nosuchthing")


def test_another_project_gets_404(jobs, project_client):
    owner, _ = project_client()
    stranger, _ = project_client()
    batch = create(owner, metadata={"who": "owner"})
    with pytest.raises(openai.NotFoundError):
        stranger.batches.retrieve(batch.id)
    with pytest.raises(openai.NotFoundError):
        stranger.batches.cancel(batch.id)
    assert batch.id not in [b.id for b in stranger.batches.list()]
    # Nor can it run a batch on the owner's input file.
    with pytest.raises(openai.BadRequestError) as err:
        create(stranger, input_file_id=batch.input_file_id)
    assert err.value.body["param"] == "input_file_id"
    done = wait(owner, batch.id)
    assert done.status == "completed" and done.metadata == {"who": "owner"}
    with pytest.raises(openai.NotFoundError):
        stranger.files.content(done.output_file_id)  # its output is the owner's too


def test_list_pages_by_cursor_newest_first(batch_client):
    client = batch_client
    made = [create(client).id for _ in range(3)]
    page = client.batches.list(limit=2)
    assert [b.id for b in page.data] == made[::-1][:2] and page.has_more
    assert page.first_id == made[2] and page.last_id == made[1]
    rest = client.batches.list(limit=2, after=page.last_id)
    assert [b.id for b in rest.data] == [made[0]] and not rest.has_more
    assert [b.id for b in client.batches.list()] == made[::-1]  # the SDK's auto-paging sees all
    with pytest.raises(openai.BadRequestError) as err:
        client.batches.list(limit=1000)
    assert err.value.body["param"] == "limit"
    for batch_id in made:
        wait(client, batch_id)


def test_cancelling_an_ended_batch_is_a_409(batch_client):
    batch = create(batch_client)
    assert wait(batch_client, batch.id).status == "completed"
    with pytest.raises(openai.ConflictError) as err:
        batch_client.batches.cancel(batch.id)
    assert err.value.body["param"] == "batch_id"
