"""Fixtures for the responses service (a pytest plugin, see conftest.py): the service on the
session stack, its responses and conversations in a database of its own, and SDK clients in
projects of their own."""

import concurrent.futures
import secrets
import time
from collections.abc import Callable, Iterator

import openai
import pytest

from devstack import processes
from tests.files_fixtures import sdk_client, with_database
from tests.stack import Stack, make_key


def responses_env(mongo_url: str) -> dict[str, str]:
    """A database of its own; compaction summaries kept short (the local model is slow)."""
    return {"VIVIAN_MONGO_URL": with_database(mongo_url, f"vivian_tests_responses_{secrets.token_hex(4)}"),
            "VIVIAN_COMPACT_TOKENS": "64"}


@pytest.fixture(scope="session")
def responses(stack: Stack, mongo_url) -> Iterator[Stack]:
    """The responses service on the session stack (its edge serves /v1/responses and
    /v1/conversations; the stack's chat service runs the turns)."""
    stack.responses_env = responses_env(mongo_url)
    stack.start_responses(stack.responses_env)
    try:
        yield stack
    finally:
        proc = stack.procs.pop("responses", None)
        if proc is not None:
            processes.stop(proc)


@pytest.fixture(scope="session")
def responses_client(responses, conformance) -> Callable[..., openai.OpenAI]:
    """`new(project=None)`: an SDK client whose key belongs to a project of its own."""

    def new(project: str | None = None) -> openai.OpenAI:
        project = project or f"proj_{secrets.token_hex(8)}"
        with concurrent.futures.ThreadPoolExecutor(1) as pool:  # make_key runs an event loop of its own
            key = pool.submit(make_key, responses.nats_url, project=project).result()
        return sdk_client(responses, key, conformance)

    return new


def leave_mid_stream(client: openai.OpenAI, model: str) -> str:
    """Stream a long response on `model` and leave at its first text (the stored response is
    `in_progress` then); the status it ends with, once it is no longer in progress."""
    stream = client.responses.create(model=model, input="Write a very long story about a dragon.",
                                     max_output_tokens=2000, stream=True)
    response_id = None
    for event in stream:
        if event.type == "response.created":
            response_id = event.response.id
        if event.type == "response.output_text.delta":
            break
    assert client.responses.retrieve(response_id).status == "in_progress"
    stream.close()
    deadline = time.monotonic() + 60
    while (status := client.responses.retrieve(response_id).status) == "in_progress":
        assert time.monotonic() < deadline, "the response stayed in_progress"
        time.sleep(0.1)
    return status
