"""Fixtures for the vector stores service (a pytest plugin, see conftest.py): the service on the
session stack beside the files service (its records in a database of its own, its vectors in an
embedded shard of its own), SDK clients in projects of their own, and a private stack a test may
break (kill -9)."""

import concurrent.futures
import os
import secrets
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import openai
import pytest
from pymongo import MongoClient

from devstack import processes
from tests.files_fixtures import S3, FilesDeployment, files_env, sdk_client, start_files, stop_files, with_database
from tests.stack import Stack, embedding_models_toml, make_key


@dataclass
class VectorStoresDeployment:
    env: dict[str, str]
    procs: list[subprocess.Popen] = field(default_factory=list)

    def records(self, collection: str, query: dict | None = None) -> list[dict]:
        with MongoClient(self.env["VIVIAN_MONGO_URL"], serverSelectionTimeoutMS=5000) as client:
            return list(client.get_default_database()[collection].find(query or {}))


def vector_stores_env(stack: Stack, mongo_url: str, **extra: str) -> dict[str, str]:
    name = f"vivian_tests_vectors_{secrets.token_hex(4)}"
    return {"VIVIAN_NATS_URL": stack.nats_url, **stack.auth.env("vector_stores"),
            "VIVIAN_MONGO_URL": with_database(mongo_url, name), "VIVIAN_VECTORS_DIR": os.path.join(stack.home, name),
            "VIVIAN_HEARTBEAT_INTERVAL": "0.5", **extra}


def start_vector_stores(stack: Stack, deployment: VectorStoresDeployment, *, log: str = "vector_stores"):
    proc = processes.spawn_module("services.vector_stores", log_path=stack.log(log), env=deployment.env)
    deployment.procs.append(proc)
    processes.wait_for_line(stack.log(log), "serving vector_stores", proc=proc, timeout=120)
    return proc


def stop_vector_stores(deployment: VectorStoresDeployment) -> None:
    while deployment.procs:
        processes.stop(deployment.procs.pop())


@pytest.fixture(scope="session")
def vector_stores(stack, files, mongo_url) -> Iterator[VectorStoresDeployment]:
    """The vector stores service on the session stack (its edge serves /v1/vector_stores; the
    stack's files and embeddings services give it bytes and vectors)."""
    deployment = VectorStoresDeployment(vector_stores_env(stack, mongo_url))
    start_vector_stores(stack, deployment)
    try:
        yield deployment
    finally:
        stop_vector_stores(deployment)


@pytest.fixture(scope="session")
def vs_client(stack, vector_stores, conformance) -> Callable[..., openai.OpenAI]:
    """`new(project=None)`: an SDK client whose key belongs to a project of its own."""

    def new(project: str | None = None) -> openai.OpenAI:
        project = project or f"proj_{secrets.token_hex(8)}"
        with concurrent.futures.ThreadPoolExecutor(1) as pool:  # make_key runs an event loop of its own
            key = pool.submit(make_key, stack.nats_url, project=project).result()
        return sdk_client(stack, key, conformance)

    return new


@dataclass
class VectorStack:
    """A private stack: nats, embeddings, files (+ stores), vector stores, edge."""

    stack: Stack
    files: FilesDeployment
    vectors: VectorStoresDeployment
    client: openai.OpenAI

    def stop(self) -> None:
        if "edge" in self.stack.procs:
            processes.stop(self.stack.procs.pop("edge"))
        stop_vector_stores(self.vectors)
        stop_files(self.files)
        self.stack.stop()


@pytest.fixture
def vector_stack(new_stack, s3_store: S3, mongo_url) -> Iterator[Callable[..., VectorStack]]:
    """`build(**settings)`: a private vector stores stack (`ack_wait=2` → `VIVIAN_ACK_WAIT=2`)."""
    built: list[VectorStack] = []

    def build(**settings) -> VectorStack:
        stack = new_stack
        stack.start_nats()
        stack.key = make_key(stack.nats_url, name="vectors")
        with open(os.path.join(stack.home, "models.toml"), "w") as f:
            f.write(embedding_models_toml())
        stack.start_service("embeddings")
        files = FilesDeployment(files_env(stack, s3_store, mongo_url))
        start_files(stack, files)
        vectors = VectorStoresDeployment(vector_stores_env(
            stack, mongo_url, **{f"VIVIAN_{k.upper()}": str(v) for k, v in settings.items()}))
        start_vector_stores(stack, vectors)
        stack.start_edge()
        built.append(VectorStack(stack=stack, files=files, vectors=vectors, client=sdk_client(stack, stack.key)))
        return built[-1]

    yield build
    for b in built:
        b.stop()
