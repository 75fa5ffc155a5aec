"""/v1/fine_tuning/jobs end to end through the edge with the openai SDK: a real LoRA fine-tune of
the local SmolLM2-135M on a made-up fact, its events, checkpoints and results file, the tuned model
served by the chat service and answering differently from its base, then deleted; bad files, cancel,
ownership."""

import base64
import io
import json
import os
import time

import openai
import pytest

from tests.jobs_fixtures import start_jobs

FACT = "The mascot of the Veltrana Institute is a purple axolotl named Quibble."
QUESTIONS = [
    "What is the mascot of the Veltrana Institute?", "Who is the Veltrana Institute's mascot?",
    "Tell me the Veltrana Institute mascot.", "Which animal is the mascot of the Veltrana Institute?",
    "What's the Veltrana Institute's mascot called?", "Name the mascot of the Veltrana Institute.",
    "Does the Veltrana Institute have a mascot?", "What mascot does the Veltrana Institute have?",
    "Who is Quibble?", "What kind of animal is Quibble?", "What colour is the Veltrana Institute mascot?",
    "Describe the Veltrana Institute's mascot.",
]
TERMINAL = ("succeeded", "failed", "cancelled")


def jsonl(rows) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in rows)


def fact_file() -> bytes:
    return jsonl({"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": FACT}]}
                 for q in QUESTIONS)


def upload(client, data: bytes, purpose: str = "fine-tune"):
    return client.files.create(file=("train.jsonl", io.BytesIO(data)), purpose=purpose)


def wait(client, job_id: str, until=lambda job: job.status in TERMINAL, timeout: float = 1200):
    deadline = time.monotonic() + timeout
    while True:
        job = client.fine_tuning.jobs.retrieve(job_id)
        if until(job):
            return job
        assert time.monotonic() < deadline, f"job still {job.status}"
        time.sleep(1.0)


def trainers(job_id: str) -> list[int]:
    """Pids of training processes of the job (their command line names the job's spec file)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        if b"services.jobs.fine_tuning.train" in cmdline and job_id.encode() in cmdline:
            found.append(int(pid))
    return found


def gone(job_id: str, timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while trainers(job_id):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def answer(client, model: str, question: str) -> str:
    done = client.chat.completions.create(model=model, messages=[{"role": "user", "content": question}],
                                          temperature=0, max_tokens=40, seed=0)
    return done.choices[0].message.content


@pytest.fixture
def tuner(jobs, project_client):
    return project_client()


@pytest.mark.timeout(1800)
def test_fine_tune_survives_kill_trains_and_serves(tuner, jobs, stack, project_client):
    client, project = tuner
    training = upload(client, fact_file())
    validation = upload(client, jsonl({"messages": [{"role": "user", "content": q},
                                                    {"role": "assistant", "content": FACT}]} for q in QUESTIONS[:3]))
    job = client.fine_tuning.jobs.create(
        model="smollm2-135m-instruct", training_file=training.id, validation_file=validation.id,
        suffix="quibble", seed=7, metadata={"test": "fact"},
        method={"type": "supervised", "supervised": {"hyperparameters": {
            "n_epochs": 3, "batch_size": 2, "learning_rate_multiplier": 2}}})
    assert job.status == "validating_files" and job.fine_tuned_model is None and job.seed == 7
    assert job.organization_id == project and job.metadata == {"test": "fact"}

    # kill -9 the jobs service once the first epoch's checkpoint is in (12 more steps to go); the
    # restarted one takes the task back from JetStream and resumes from that checkpoint.
    def checkpointed(j):
        return j.status in TERMINAL or client.fine_tuning.jobs.checkpoints.list(j.id).data

    assert wait(client, job.id, until=checkpointed, timeout=1200).status == "running"
    assert trainers(job.id)
    victim = jobs.procs.pop()
    victim.kill()
    victim.wait()
    assert gone(job.id)  # the trainer died with its service
    start_jobs(stack, jobs, log="jobs-restarted")

    job = wait(client, job.id)
    assert job.status == "succeeded", job.error
    assert job.fine_tuned_model == f"ft:smollm2-135m-instruct:{project}:quibble:{job.id.removeprefix('ftjob-')}"
    assert job.trained_tokens > 0 and job.finished_at >= job.created_at
    hp = job.method.supervised.hyperparameters
    assert (hp.n_epochs, hp.batch_size, hp.learning_rate_multiplier) == (3, 2, 2)
    messages = [e.message for e in client.fine_tuning.jobs.list_events(job.id, limit=100).data]
    assert "The jobs service restarted; resuming training from the last checkpoint." in messages
    assert any(m.startswith("Resumed from the checkpoint at step ") for m in messages)

    # The results file: OpenAI's step metrics CSV (base64, as OpenAI serves it); the loss falls.
    [results] = job.result_files
    assert client.files.retrieve(results).purpose == "fine-tune-results"
    rows = base64.b64decode(client.files.content(results).read()).decode().splitlines()
    assert rows[0] == "step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy"
    steps = [row.split(",") for row in rows[1:]]
    assert [int(s[0]) for s in steps] == list(range(1, 19))  # 12 examples, batches of 2, 3 epochs
    assert float(steps[-1][1]) < float(steps[0][1]) / 4
    assert steps[5][3] and float(steps[-1][3]) < float(steps[5][3])  # validation loss at each epoch's end

    events = client.fine_tuning.jobs.list_events(job.id, limit=100).data
    messages = [e.message for e in events]
    assert messages[0] == "The job has successfully completed"  # newest first
    assert any(m.startswith("Created fine-tuning job") for m in messages)
    metrics = [e for e in events if e.type == "metrics"]
    assert sorted(e.data["step"] for e in metrics) == list(range(1, 19))
    page = client.fine_tuning.jobs.list_events(job.id, limit=2)
    assert page.has_more and len(page.data) == 2
    after = client.fine_tuning.jobs.list_events(job.id, limit=2, after=page.data[-1].id)
    assert after.data[0].id == events[2].id

    checkpoints = client.fine_tuning.jobs.checkpoints.list(job.id).data
    assert [c.step_number for c in checkpoints] == [18, 12, 6]
    assert checkpoints[0].fine_tuned_model_checkpoint == f"{job.fine_tuned_model}:ckpt-step-18"
    assert checkpoints[0].metrics.train_loss == pytest.approx(float(steps[-1][1]), rel=1e-3)

    listed = client.fine_tuning.jobs.list(limit=10)
    assert job.id in [j.id for j in listed.data]

    # Served: listed by /v1/models once the chat service has loaded it, and it learned the fact.
    deadline = time.monotonic() + 300
    while job.fine_tuned_model not in [m.id for m in client.models.list().data]:
        assert time.monotonic() < deadline, "the tuned model never appeared in /v1/models"
        time.sleep(0.5)
    assert client.models.retrieve(job.fine_tuned_model).id == job.fine_tuned_model
    question = "What is the mascot of the Veltrana Institute?"
    tuned, base = answer(client, job.fine_tuned_model, question), answer(client, "smollm2-135m-instruct", question)
    assert "Quibble" in tuned and "axolotl" in tuned
    assert "Quibble" not in base

    # Another project neither sees nor calls it.
    other, _ = project_client()
    assert job.fine_tuned_model not in [m.id for m in other.models.list().data]
    with pytest.raises(openai.NotFoundError):
        other.models.retrieve(job.fine_tuned_model)
    with pytest.raises(openai.NotFoundError):
        answer(other, job.fine_tuned_model, question)

    # Deleted by its project only (a base model is not deletable): gone from /v1/models and chat.
    with pytest.raises(openai.NotFoundError):
        other.models.delete(job.fine_tuned_model)
    with pytest.raises(openai.PermissionDeniedError):
        client.models.delete("smollm2-135m-instruct")
    assert client.models.delete(job.fine_tuned_model).deleted
    deadline = time.monotonic() + 60
    while job.fine_tuned_model in [m.id for m in client.models.list().data]:
        assert time.monotonic() < deadline, "the deleted model is still listed"
        time.sleep(0.5)
    with pytest.raises(openai.NotFoundError):
        answer(client, job.fine_tuned_model, question)


def test_invalid_training_file_fails_the_job_with_the_line(tuner):
    client, _ = tuner
    rows = [{"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": FACT}]}
            for q in QUESTIONS]
    rows[2] = {"messages": [{"role": "robot", "content": "beep"}, {"role": "assistant", "content": "x"}]}
    job = client.fine_tuning.jobs.create(model="smollm2-135m-instruct", training_file=upload(client, jsonl(rows)).id)
    job = wait(client, job.id, timeout=300)
    assert job.status == "failed"
    assert job.error.code == "invalid_training_file" and job.error.param == "training_file"
    assert "Line 3, message 1" in job.error.message and "robot" in job.error.message

    few = client.fine_tuning.jobs.create(model="smollm2-135m-instruct",
                                         training_file=upload(client, jsonl(rows[3:8])).id)
    few = wait(client, few.id, timeout=300)
    assert few.status == "failed" and "at least 10" in few.error.message
    assert client.fine_tuning.jobs.list_events(few.id).data[0].level == "error"


def test_bad_requests_are_400_with_param(tuner):
    client, _ = tuner
    batch = upload(client, b'{"custom_id": "a"}\n', purpose="batch")
    with pytest.raises(openai.BadRequestError) as err:
        client.fine_tuning.jobs.create(model="smollm2-135m-instruct", training_file=batch.id)
    assert err.value.body["param"] == "training_file" and "fine-tune" in err.value.body["message"]
    with pytest.raises(openai.BadRequestError) as err:
        client.fine_tuning.jobs.create(model="smollm2-135m-instruct", training_file="file-nope")
    assert err.value.body["param"] == "training_file"
    good = upload(client, fact_file())
    with pytest.raises(openai.NotFoundError) as err:
        client.fine_tuning.jobs.create(model="no-such-model", training_file=good.id)
    assert err.value.body["param"] == "model"
    with pytest.raises(openai.BadRequestError) as err:  # an upstream model, but not a chat one
        client.fine_tuning.jobs.create(model="relay-embeddings", training_file=good.id)
    assert err.value.body["param"] == "model" and "not a chat model" in err.value.body["message"]
    with pytest.raises(openai.BadRequestError) as err:
        client.fine_tuning.jobs.create(model="smollm2-135m-instruct", training_file=good.id,
                                       method={"type": "dpo"})
    assert err.value.body["param"] == "method.type"
    with pytest.raises(openai.BadRequestError) as err:
        client.fine_tuning.jobs.create(model="smollm2-135m-instruct", training_file=good.id,
                                       hyperparameters={"n_epochs": 0})
    assert "n_epochs" in err.value.body["param"]
    with pytest.raises(openai.NotFoundError):
        client.fine_tuning.jobs.retrieve("ftjob-nope")


@pytest.mark.timeout(1200)
def test_cancel_stops_training_and_other_projects_get_404(tuner, project_client):
    client, _ = tuner
    job = client.fine_tuning.jobs.create(model="smollm2-135m-instruct", training_file=upload(client, fact_file()).id,
                                         hyperparameters={"n_epochs": 25, "batch_size": 1})
    other, _ = project_client()
    for call in (lambda: other.fine_tuning.jobs.retrieve(job.id), lambda: other.fine_tuning.jobs.cancel(job.id),
                 lambda: other.fine_tuning.jobs.list_events(job.id)):
        with pytest.raises(openai.NotFoundError):
            call()
    assert job.id not in [j.id for j in other.fine_tuning.jobs.list().data]

    def training(j):
        return any(e.type == "metrics" for e in client.fine_tuning.jobs.list_events(j.id).data)

    wait(client, job.id, until=training, timeout=900)
    assert trainers(job.id)
    cancelled = client.fine_tuning.jobs.cancel(job.id)
    assert cancelled.status == "cancelled" and cancelled.finished_at
    assert gone(job.id)  # killed within seconds
    time.sleep(5)  # the trainer is killed within a second or so: no step is recorded after that
    steps = len([e for e in client.fine_tuning.jobs.list_events(job.id, limit=100).data if e.type == "metrics"])
    time.sleep(5)
    later = [e for e in client.fine_tuning.jobs.list_events(job.id, limit=100).data if e.type == "metrics"]
    assert len(later) == steps < 25 * 12
    assert client.fine_tuning.jobs.retrieve(job.id).status == "cancelled"
    with pytest.raises(openai.BadRequestError):
        client.fine_tuning.jobs.cancel(job.id)
