"""DELETE /v1/models/{model} through the edge with the openai SDK: a project deletes its own tuned
model (OpenAI's `deleted` object, once); a base model is 403; another project's tuned model, or
none, is 404. The tuned model's job is written straight into the jobs service's records here, so no
training is needed; the end-to-end tests (`test_fine_tuning*.py`) delete really trained ones and see
them leave `/v1/models` and chat."""

import secrets
import time

import openai
import pytest
from pymongo import MongoClient


def tuned_job(jobs, project: str) -> str:
    """A succeeded job of `project`, as the runner leaves one; its tuned model's name."""
    job_id = f"ftjob-{secrets.token_hex(12)}"
    name = f"ft:smollm2-135m-instruct:{project}:test:{job_id.removeprefix('ftjob-')}"
    now = int(time.time())
    record = {"_id": job_id, "project": project, "seq": f"{time.time_ns():020d}-{job_id}", "created_at": now,
              "status": "succeeded", "model": "smollm2-135m-instruct", "base": "smollm2-135m-instruct",
              "training_file": "file-x", "seed": 1, "hyperparameters": {}, "fine_tuned_model": name,
              "finished_at": now}
    with MongoClient(jobs.env["VIVIAN_MONGO_URL"], serverSelectionTimeoutMS=5000) as client:
        client.get_default_database()["fine_tuning_jobs"].insert_one(record)
    return name


def test_delete_own_tuned_model_once_base_is_403_others_404(jobs, project_client):
    client, project = project_client()
    other, _ = project_client()
    name = tuned_job(jobs, project)

    with pytest.raises(openai.NotFoundError) as err:  # another project's: as if it did not exist
        other.models.delete(name)
    assert err.value.body["code"] == "model_not_found" and err.value.body["param"] == "model"
    with pytest.raises(openai.PermissionDeniedError) as err:  # a base model
        client.models.delete("smollm2-135m-instruct")
    assert err.value.body["type"] == "invalid_request_error" and "insufficient permissions" in err.value.body["message"]
    with pytest.raises(openai.NotFoundError):
        client.models.delete("ft:smollm2-135m-instruct:nobody:x:nothing")

    deleted = client.models.delete(name)
    assert (deleted.id, deleted.object, deleted.deleted) == (name, "model", True)
    with pytest.raises(openai.NotFoundError):  # once
        client.models.delete(name)
    [record] = jobs.records("fine_tuning_jobs", {"fine_tuned_model": name})
    assert record["model_deleted"] and record["status"] == "succeeded"  # the job stays
