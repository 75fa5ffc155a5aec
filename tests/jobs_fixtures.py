"""Fixtures for the jobs service (a pytest plugin, see conftest.py): the jobs service on the
session stack, beside the files service and on the same stores (`tests/files_fixtures.py`), and
helpers to start more of them on a private stack."""

import os
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import openai
import pytest
from pymongo import MongoClient

from devstack import processes
from tests.files_fixtures import S3, FilesDeployment, files_env, sdk_client, start_files, stop_files
from tests.stack import Stack, embedding_models_toml, local_models_toml, make_key


@dataclass
class JobsDeployment:
    """A jobs service's settings and processes, and a direct view of its records."""

    env: dict[str, str]
    procs: list[subprocess.Popen] = field(default_factory=list)

    def records(self, collection: str, query: dict | None = None) -> list[dict]:
        with MongoClient(self.env["VIVIAN_MONGO_URL"], serverSelectionTimeoutMS=5000) as client:
            return list(client.get_default_database()[collection].find(query or {}))


def jobs_env(stack: Stack, files: FilesDeployment, **extra: str) -> dict[str, str]:
    """Settings for a jobs service on `stack`'s bus, keeping its records in the files service's
    database (collections of its own)."""
    return {"VIVIAN_NATS_URL": stack.nats_url, **stack.auth.env("jobs"), "VIVIAN_MONGO_URL": files.settings.mongo_url,
            "VIVIAN_HEARTBEAT_INTERVAL": "0.5", "VIVIAN_MODELS": os.path.join(stack.home, "models.toml"),
            "VIVIAN_FINE_TUNING_DIR": os.path.join(stack.home, "fine_tuning"), **extra}


def start_jobs(stack: Stack, deployment: JobsDeployment, *, log: str = "jobs") -> subprocess.Popen:
    """One more replica of the jobs service, once it serves."""
    proc = processes.spawn_module("services.jobs", log_path=stack.log(log), env=deployment.env)
    deployment.procs.append(proc)
    processes.wait_for_line(stack.log(log), "serving jobs", proc=proc, timeout=60)
    return proc


def stop_jobs(deployment: JobsDeployment) -> None:
    while deployment.procs:
        processes.stop(deployment.procs.pop())


@pytest.fixture(scope="session")
def jobs(stack, files) -> Iterator[JobsDeployment]:
    """The jobs service on the session stack (its edge serves /v1/batches), with the relay's key
    (fine-tuning jobs of `relay-smollm2` go to that upstream)."""
    deployment = JobsDeployment(jobs_env(stack, files, **getattr(stack, "relay_env", {})))
    start_jobs(stack, deployment)
    try:
        yield deployment
    finally:
        stop_jobs(deployment)


@dataclass
class BatchStack:
    """A private stack for batches: nats, model services, files (+ stores), jobs, edge."""

    stack: Stack
    files: FilesDeployment
    jobs: JobsDeployment
    client: openai.OpenAI

    def stop(self) -> None:
        if "edge" in self.stack.procs:
            processes.stop(self.stack.procs.pop("edge"))
        stop_jobs(self.jobs)
        stop_files(self.files)
        self.stack.stop()


def build_batch_stack(stack: Stack, s3: S3, mongo_url: str, *, chat: bool = False, **jobs_settings) -> BatchStack:
    """Everything a batch needs on `stack` (empty), with the jobs service's `jobs_settings`
    (`batch_chunk_lines=1` → `VIVIAN_BATCH_CHUNK_LINES=1`). The embeddings service always; the
    chat service (the local model) when `chat`."""
    stack.start_nats()
    stack.key = make_key(stack.nats_url, name="batches")
    models = embedding_models_toml()
    if chat:
        stack.start_chat(local_models_toml(models))
    else:
        with open(os.path.join(stack.home, "models.toml"), "w") as f:
            f.write(models)
    stack.start_service("embeddings")
    files = FilesDeployment(files_env(stack, s3, mongo_url))
    start_files(stack, files)
    jobs = JobsDeployment(jobs_env(stack, files, **{f"VIVIAN_{k.upper()}": str(v) for k, v in jobs_settings.items()}))
    start_jobs(stack, jobs)
    stack.start_edge()
    return BatchStack(stack=stack, files=files, jobs=jobs, client=sdk_client(stack, stack.key))


@pytest.fixture
def batch_stack(new_stack, s3_store, mongo_url) -> Iterator[Callable[..., BatchStack]]:
    """`build(**jobs_settings)`: a private batch stack (on `new_stack`) a test may break."""
    built: list[BatchStack] = []

    def build(**kwargs) -> BatchStack:
        built.append(build_batch_stack(new_stack, s3_store, mongo_url, **kwargs))
        return built[-1]

    yield build
    for b in built:
        b.stop()
