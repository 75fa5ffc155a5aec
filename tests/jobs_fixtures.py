"""Fixtures for the jobs service (a pytest plugin, see conftest.py): the jobs service on the
session stack, beside the files service and on the same stores (`tests/files_fixtures.py`), and
helpers to start more of them on a private stack."""

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from pymongo import MongoClient

from services.stack import processes
from tests.files_fixtures import FilesDeployment
from tests.stack import Stack


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
    return {"VIVIAN_NATS_URL": stack.nats_url, "VIVIAN_MONGO_URL": files.settings.mongo_url,
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
    """The jobs service on the session stack (its edge serves /v1/batches)."""
    deployment = JobsDeployment(jobs_env(stack, files))
    start_jobs(stack, deployment)
    try:
        yield deployment
    finally:
        stop_jobs(deployment)
