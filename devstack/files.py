"""The files service for `make up`, with its stores: SeaweedFS (`weed mini`) for bytes and
nx-27017 for records, both on loopback, data under `$VIVIAN_HOME/s3` and `$VIVIAN_HOME/mongo`.
nx-27017 starts first (`start_mongo`): the chat service keeps stored completions there too."""

import os
import secrets
import subprocess

from devstack import mongo, processes, seaweed
from devstack.credentials import BusAuth

ACCESS_KEY = "vivian"


def _secret(path: str) -> str:
    """The store's secret key, made on first start and kept (mode 600) for the next ones."""
    if os.path.exists(path):
        with open(path) as f:
            return f.read().strip()
    secret = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secret + "\n")
    return secret


def start_mongo(home: str, *, started: list[subprocess.Popen]) -> str:
    """Start nx-27017 (appended to `started`); its URL."""
    nx, mongo_url = mongo.start(os.path.join(home, "mongo"))
    started.append(nx)
    return mongo_url


def start(home: str, *, nats_url: str, auth: BusAuth, mongo_url: str,
          started: list[subprocess.Popen]) -> dict[str, str]:
    """Start weed and the files service (its records in nx-27017 at `mongo_url`), appending each
    to `started` as it starts (so whatever did start is stopped, even if a later one fails).
    Returns the stores' settings (`VIVIAN_S3_*`, `VIVIAN_MONGO_URL`), for the services that use
    them too."""
    secret = _secret(os.path.join(home, "s3_secret"))
    weed, endpoint = seaweed.start(os.path.join(home, "s3"), access_key=ACCESS_KEY, secret_key=secret)
    started.append(weed)
    log = os.path.join(home, "logs", "files.log")
    stores = {"VIVIAN_S3_ENDPOINT": endpoint, "VIVIAN_S3_ACCESS_KEY": ACCESS_KEY, "VIVIAN_S3_SECRET_KEY": secret,
              "VIVIAN_MONGO_URL": mongo_url}
    files = processes.spawn_module("services.files", log_path=log,
                                   env={"VIVIAN_NATS_URL": nats_url, **auth.env("files"), **stores})
    started.append(files)
    processes.wait_for_line(log, "serving files", proc=files, timeout=60)
    return stores


def start_jobs(home: str, *, nats_url: str, auth: BusAuth, mongo_url: str, started: list[subprocess.Popen]) -> None:
    """The jobs service (/v1/batches), its records beside the files service's."""
    log = os.path.join(home, "logs", "jobs.log")
    jobs = processes.spawn_module("services.jobs", log_path=log, env={
        "VIVIAN_NATS_URL": nats_url, **auth.env("jobs"), "VIVIAN_MONGO_URL": mongo_url,
        "VIVIAN_FINE_TUNING_DIR": os.path.join(home, "fine_tuning")})
    started.append(jobs)
    processes.wait_for_line(log, "serving jobs", proc=jobs, timeout=60)
