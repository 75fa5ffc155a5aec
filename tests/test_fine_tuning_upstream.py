"""Fine-tuning jobs of an upstream model through the edge with the openai SDK: `relay-smollm2`
routes to a real OpenAI-compatible server on loopback (this same stack's edge, with the relay key,
whose jobs service really trains SmolLM2-135M). Ours is created there and mirrored: status,
events, the tuned model's name, which then answers chat completions through Vivian until it is
deleted (there too); pause, resume and cancel are relayed, and so are the upstream's errors."""

import time

import openai
import pytest

from tests.conftest import RELAY_KEY_ENV
from tests.files_fixtures import sdk_client
from tests.test_fine_tuning import FACT, QUESTIONS, answer, jsonl, upload, wait


def ten_examples() -> bytes:
    return jsonl({"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": FACT}]}
                 for q in QUESTIONS[:10])


@pytest.fixture
def relay(stack, jobs):
    """An SDK client with the relay's key: it sees the upstream's side of our jobs."""
    return sdk_client(stack, stack.relay_env[RELAY_KEY_ENV])


def upstream_id(jobs, job_id: str) -> str:
    [record] = jobs.records("fine_tuning_jobs", {"_id": job_id})
    return record["upstream"]


@pytest.mark.timeout(900)
def test_upstream_job_is_created_there_mirrored_and_its_model_served(jobs, relay, project_client):
    client, project = project_client()
    training = upload(client, ten_examples())
    job = client.fine_tuning.jobs.create(model="relay-smollm2", training_file=training.id, suffix="relayed",
                                         seed=3, metadata={"via": "relay"},
                                         hyperparameters={"n_epochs": 1, "batch_size": 10})
    assert job.id.startswith("ftjob-") and job.model == "relay-smollm2" and job.organization_id == project
    assert job.training_file == training.id and job.metadata == {"via": "relay"} and job.seed == 3

    # Upstream: its own job of the upstream model, on its own copy of the file, every field passed.
    up = relay.fine_tuning.jobs.retrieve(upstream_id(jobs, job.id))
    assert up.id != job.id and up.model == "smollm2-135m-instruct" and up.metadata == {"via": "relay"}
    assert up.training_file != training.id and up.seed == 3
    assert relay.files.retrieve(up.training_file).purpose == "fine-tune"
    assert relay.files.content(up.training_file).read() == ten_examples()

    job = wait(client, job.id, timeout=800)
    up = relay.fine_tuning.jobs.retrieve(up.id)
    assert job.status == up.status == "succeeded", (job.error, up.error)
    assert job.fine_tuned_model == up.fine_tuned_model and up.fine_tuned_model.startswith(
        "ft:smollm2-135m-instruct:")
    assert job.trained_tokens == up.trained_tokens > 0 and job.finished_at == up.finished_at
    hp = job.method.supervised.hyperparameters
    assert (hp.n_epochs, hp.batch_size) == (1, 10)

    # Every upstream event is ours too, in the same order, and pages the same way.
    theirs = [(e.message, e.type, e.level) for e in relay.fine_tuning.jobs.list_events(up.id, limit=100).data]
    events = client.fine_tuning.jobs.list_events(job.id, limit=100).data
    ours = [(e.message, e.type, e.level) for e in events]
    assert [e for e in ours if e in theirs] == theirs
    assert ours[0] == ("The job has successfully completed", "message", "info")
    assert [e.data["step"] for e in events if e.type == "metrics"] == [1]
    assert ours[-1][0].startswith(f"Created fine-tuning job: {job.id}")
    page = client.fine_tuning.jobs.list_events(job.id, limit=2)
    assert page.has_more and [e.id for e in page.data] == [e.id for e in events[:2]]
    after = client.fine_tuning.jobs.list_events(job.id, limit=2, after=page.data[-1].id)
    assert [e.id for e in after.data] == [e.id for e in events[2:4]]

    # The tuned model answers through Vivian, routed to the upstream: the same answer as there.
    deadline = time.monotonic() + 120
    while job.fine_tuned_model not in [m.id for m in client.models.list().data]:
        assert time.monotonic() < deadline, "the tuned model never appeared in /v1/models"
        time.sleep(0.5)
    question = "What is the mascot of the Veltrana Institute?"
    mine = answer(client, job.fine_tuned_model, question)
    assert mine and mine == answer(relay, job.fine_tuned_model, question)
    assert client.models.retrieve(job.fine_tuned_model).owned_by == project

    other, _ = project_client()  # another project neither sees nor calls it
    assert job.fine_tuned_model not in [m.id for m in other.models.list().data]
    with pytest.raises(openai.NotFoundError):
        answer(other, job.fine_tuned_model, question)

    # Deleted: upstream first (there, the relay's project owns it), then ours; gone from both.
    with pytest.raises(openai.NotFoundError):
        other.models.delete(job.fine_tuned_model)
    deleted = client.models.delete(job.fine_tuned_model)
    assert (deleted.id, deleted.deleted) == (job.fine_tuned_model, True)
    for who in (client, relay):
        deadline = time.monotonic() + 60
        while job.fine_tuned_model in [m.id for m in who.models.list().data]:
            assert time.monotonic() < deadline, "the deleted model is still listed"
            time.sleep(0.5)
        with pytest.raises(openai.NotFoundError):
            answer(who, job.fine_tuned_model, question)
    with pytest.raises(openai.NotFoundError):
        relay.models.delete(job.fine_tuned_model)
    assert client.fine_tuning.jobs.retrieve(job.id).fine_tuned_model == job.fine_tuned_model  # the job stays


@pytest.mark.timeout(300)
def test_pause_resume_and_cancel_are_relayed_to_the_upstream_job(jobs, relay, project_client):
    client, _ = project_client()
    job = client.fine_tuning.jobs.create(model="relay-smollm2", training_file=upload(client, ten_examples()).id,
                                         hyperparameters={"n_epochs": 25, "batch_size": 1})
    up_id = upstream_id(jobs, job.id)
    # Pause and resume are relayed too: both jobs take the upstream's status.
    wait(relay, up_id, until=lambda j: j.status != "validating_files", timeout=240)
    paused = client.fine_tuning.jobs.pause(job.id)
    assert paused.status == relay.fine_tuning.jobs.retrieve(up_id).status == "paused"
    with pytest.raises(openai.BadRequestError) as err:  # the upstream's refusal, relayed
        client.fine_tuning.jobs.pause(job.id)
    assert err.value.body["code"] == "invalid_state"
    resumed = client.fine_tuning.jobs.resume(job.id)
    assert resumed.status == "queued" and relay.fine_tuning.jobs.retrieve(up_id).status in ("queued", "running")
    cancelled = client.fine_tuning.jobs.cancel(job.id)
    assert cancelled.status == "cancelled" and cancelled.finished_at
    up = relay.fine_tuning.jobs.retrieve(upstream_id(jobs, job.id))
    assert up.status == "cancelled"
    time.sleep(5)  # the mirror's next looks change nothing
    assert client.fine_tuning.jobs.retrieve(job.id).status == "cancelled"
    assert relay.fine_tuning.jobs.retrieve(up.id).status == "cancelled"
    messages = [e.message for e in client.fine_tuning.jobs.list_events(job.id).data]
    assert any("cancelled" in m for m in messages)
    with pytest.raises(openai.BadRequestError):
        client.fine_tuning.jobs.cancel(job.id)


def test_upstream_errors_are_relayed(jobs, project_client):
    client, _ = project_client()
    training = upload(client, ten_examples())
    with pytest.raises(openai.NotFoundError) as err:  # the upstream has no such model
        client.fine_tuning.jobs.create(model="relay-missing", training_file=training.id)
    assert err.value.body["code"] == "model_not_found" and err.value.body["param"] == "model"
    assert "no-such-model" in err.value.body["message"]
    with pytest.raises(openai.APIStatusError) as err:  # nothing listens there
        client.fine_tuning.jobs.create(model="relay-unreachable", training_file=training.id)
    assert err.value.status_code == 502 and err.value.body["code"] == "upstream_unreachable"
    with pytest.raises(openai.BadRequestError) as err:  # our own checks come first
        client.fine_tuning.jobs.create(model="relay-smollm2", training_file="file-nope")
    assert err.value.body["param"] == "training_file"
    assert not [j for j in client.fine_tuning.jobs.list().data]  # no job was recorded
