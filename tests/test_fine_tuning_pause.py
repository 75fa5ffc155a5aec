"""POST /v1/fine_tuning/jobs/{id}/pause and …/resume through the edge with the openai SDK: a running
local training stops (its trainer killed, no more steps) and, resumed, goes on from its last
checkpoint to the end; only a running job pauses, only a paused one resumes, and another project's
job does not exist."""

import time

import openai
import pytest

from tests.test_fine_tuning import fact_file, gone, trainers, upload, wait
from tests.test_models_delete import tuned_job


def test_only_running_jobs_pause_and_paused_ones_resume(jobs, project_client):
    client, project = project_client()
    other, _ = project_client()
    tuned_job(jobs, project)
    [job] = jobs.records("fine_tuning_jobs", {"project": project})
    for call in (client.fine_tuning.jobs.pause, client.fine_tuning.jobs.resume):
        with pytest.raises(openai.BadRequestError) as err:  # it has succeeded
            call(job["_id"])
        assert err.value.body["code"] == "invalid_state" and err.value.body["param"] == "fine_tuning_job_id"
        with pytest.raises(openai.NotFoundError):
            call("ftjob-nope")
        with pytest.raises(openai.NotFoundError):  # another project's
            other.fine_tuning.jobs.pause(job["_id"])


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_pause_stops_training_and_resume_goes_on_from_the_checkpoint(jobs, project_client):
    client, _ = project_client()
    job = client.fine_tuning.jobs.create(model="smollm2-135m-instruct", training_file=upload(client, fact_file()).id,
                                         hyperparameters={"n_epochs": 3, "batch_size": 4})  # 3 steps an epoch

    def checkpointed(j):
        return j.status in ("succeeded", "failed", "cancelled") or client.fine_tuning.jobs.checkpoints.list(j.id).data

    assert wait(client, job.id, until=checkpointed).status == "running"
    paused = client.fine_tuning.jobs.pause(job.id)
    assert paused.status == "paused"
    assert gone(job.id)  # the trainer is killed within seconds
    with pytest.raises(openai.BadRequestError):
        client.fine_tuning.jobs.pause(job.id)

    def steps() -> list[int]:
        events = client.fine_tuning.jobs.list_events(job.id, limit=100).data
        return sorted(e.data["step"] for e in events if e.type == "metrics")

    before = steps()
    time.sleep(8)
    assert steps() == before and not trainers(job.id)
    assert client.fine_tuning.jobs.retrieve(job.id).status == "paused"

    resumed = client.fine_tuning.jobs.resume(job.id)
    assert resumed.status == "queued"
    done = wait(client, job.id)
    assert done.status == "succeeded", done.error
    messages = [e.message for e in client.fine_tuning.jobs.list_events(job.id, limit=100).data]
    assert "Fine-tuning job paused." in messages and "Fine-tuning job resumed." in messages
    # Not from the start: from the checkpoint it had when paused (step 3, or 6 on a fast machine).
    assert any(m in messages for m in ("Resumed from the checkpoint at step 3 of 9.",
                                       "Resumed from the checkpoint at step 6 of 9."))
    assert not any("restarted" in m for m in messages)  # a pause is not a crash
    assert steps() == list(range(1, 10))
    assert [c.step_number for c in client.fine_tuning.jobs.checkpoints.list(job.id).data] == [9, 6, 3]
