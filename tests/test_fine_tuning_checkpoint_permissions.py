"""/v1/fine_tuning/checkpoints/{checkpoint}/permissions through the edge with the openai SDK: the
project that tuned a model shares it with other projects (create, list with its pages and filter,
delete), and chat follows: a permitted project lists and calls the model, others get 404; only the
owner manages permissions; deleting the model deletes them.

No training here: the tuned model's job is written into the jobs service's records and its entry
into the `vivian_fine_tuned` bucket as the jobs service writes them for a model tuned on an
upstream (`relay-smollm2`'s: this same edge), so chat really serves it. `test_fine_tuning*.py`
train real ones."""

import asyncio
import concurrent.futures
import time

import msgspec
import openai
import pytest

from shared import bus
from shared.protocol.fine_tuning import FineTunedModel, UpstreamTarget
from shared.tuned_model_buckets import buckets
from tests.conftest import RELAY_KEY_ENV
from tests.stack import bus_credentials
from tests.test_models_delete import tuned_job


def publish(stack, job_id: str, name: str, project: str) -> None:
    """The tuned model's entry, as `services/jobs/fine_tuning/publish.py` writes one (the jobs role)."""
    entry = FineTunedModel(id=name, base="relay-smollm2", created=int(time.time()), owned_by=project,
                           project=project, upstream=UpstreamTarget(
                               base_url=f"http://127.0.0.1:{stack.port}/v1", api_key_env=RELAY_KEY_ENV,
                               upstream_model="smollm2-135m-instruct"))

    async def go() -> None:
        nc = await bus.connect(stack.nats_url, name="tests", credentials=bus_credentials(stack.nats_url, "jobs"))
        try:
            kv, _ = await buckets(nc.jetstream())
            await kv.put(job_id, msgspec.json.encode(entry))
        finally:
            await nc.close()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, go()).result()


def listed(client, name: str, present: bool, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while (name in [m.id for m in client.models.list().data]) != present:
        assert time.monotonic() < deadline, f"{name} {'never appeared' if present else 'is still listed'}"
        time.sleep(0.3)


def call(client, name: str) -> str:
    done = client.chat.completions.create(model=name, messages=[{"role": "user", "content": "Say hi."}],
                                          max_tokens=5, temperature=0)
    return done.choices[0].message.content


@pytest.mark.timeout(600)
def test_permissions_share_a_tuned_model_with_other_projects(stack, jobs, project_client):
    owner, project = project_client()
    friend, friend_project = project_client()
    stranger, stranger_project = project_client()
    name = tuned_job(jobs, project)
    [job] = jobs.records("fine_tuning_jobs", {"fine_tuned_model": name})
    publish(stack, job["_id"], name, project)
    listed(owner, name, True)
    assert call(owner, name)
    for other in (friend, stranger):
        assert name not in [m.id for m in other.models.list().data]
        with pytest.raises(openai.NotFoundError):
            call(other, name)

    permissions = owner.fine_tuning.checkpoints.permissions
    # Only the owner manages them: for anyone else the checkpoint does not exist.
    with pytest.raises(openai.NotFoundError):
        friend.fine_tuning.checkpoints.permissions.create(name, project_ids=[friend_project])
    with pytest.raises(openai.NotFoundError):
        friend.fine_tuning.checkpoints.permissions.list(name)
    with pytest.raises(openai.NotFoundError):
        permissions.create("ft:smollm2-135m-instruct:nobody:x:nothing", project_ids=[friend_project])
    with pytest.raises(openai.BadRequestError) as err:
        permissions.create(name, project_ids=[])
    assert err.value.body["param"] == "project_ids"

    made = permissions.create(name, project_ids=[friend_project])
    [granted] = made.data
    assert granted.id.startswith("cp_") and granted.object == "checkpoint.permission"
    assert granted.project_id == friend_project and granted.created_at > 0
    again = permissions.create(name, project_ids=[friend_project])  # once per project
    assert [p.id for p in again.data] == [granted.id]

    listed(friend, name, True)  # the permitted project lists and calls it; others still do not
    assert call(friend, name)
    assert friend.models.retrieve(name).owned_by == project
    with pytest.raises(openai.NotFoundError):
        call(stranger, name)
    with pytest.raises(openai.NotFoundError):  # nor may a permitted project delete it
        friend.models.delete(name)

    time.sleep(1.1)  # a later created_at for the second
    [second] = permissions.create(name, project_ids=[stranger_project]).data
    page = permissions.retrieve(name)  # the SDK's older call, the same list
    assert [p.id for p in page.data] == [second.id, granted.id] and not page.has_more  # newest first
    assert (page.first_id, page.last_id) == (second.id, granted.id)
    first = permissions.list(name, limit=1, order="ascending")
    assert [p.id for p in first.data] == [granted.id] and first.has_more
    rest = permissions.list(name, limit=1, order="ascending", after=granted.id)
    assert [p.id for p in rest.data] == [second.id] and not rest.has_more
    assert [p.id for p in permissions.list(name, limit=1)] == [second.id, granted.id]  # every page
    assert [p.id for p in permissions.list(name, project_id=friend_project).data] == [granted.id]
    listed(stranger, name, True)

    gone = permissions.delete(granted.id, fine_tuned_model_checkpoint=name)
    assert (gone.id, gone.object, gone.deleted) == (granted.id, "checkpoint.permission", True)
    with pytest.raises(openai.NotFoundError):
        permissions.delete(granted.id, fine_tuned_model_checkpoint=name)
    listed(friend, name, False)
    with pytest.raises(openai.NotFoundError):
        call(friend, name)
    assert call(stranger, name)

    # Deleting the model takes its permissions with it.
    assert owner.models.delete(name).deleted
    listed(owner, name, False)
    listed(stranger, name, False)
    assert not jobs.records("fine_tuning_checkpoint_permissions", {"model": name})
