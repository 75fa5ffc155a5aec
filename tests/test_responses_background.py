"""Background responses (`background: true`): durable work on JetStream that any replica runs,
polled, streamed (and replayed from any sequence number), cancelled; and a replica killed in the
middle of one never leaves it `in_progress`."""

import os
import signal
import time

import openai
import pytest

from tests.files_fixtures import sdk_client
from tests.responses_fixtures import responses_env
from tests.stack import TEST_MODEL, local_models_toml, make_key

LONG = "Write a very long story about a dragon."


@pytest.fixture(scope="module")
def client(responses_client):
    return responses_client()


def wait_until_ended(client, response_id, timeout=120):
    deadline = time.monotonic() + timeout
    while True:
        try:
            response = client.responses.retrieve(response_id)
        except openai.InternalServerError as err:
            # A request the bus handed to a replica just killed goes unanswered (the edge's 504).
            assert err.status_code == 504 and time.monotonic() < deadline
            continue
        if response.status not in ("queued", "in_progress"):
            return response
        assert time.monotonic() < deadline, f"{response_id} stayed {response.status}"
        time.sleep(0.1)


def test_background_response_is_queued_then_polled(client):
    queued = client.responses.create(model=TEST_MODEL, input="Say hi.", max_output_tokens=5, background=True)
    assert queued.status == "queued" and queued.background and queued.output == []
    done = wait_until_ended(client, queued.id)
    assert done.status in ("completed", "incomplete") and done.output_text and done.usage.output_tokens > 0


def test_background_stream_and_its_replay_from_any_sequence_number(client):
    events = list(client.responses.create(model=TEST_MODEL, input="Say hi.", max_output_tokens=5, background=True,
                                          stream=True))
    assert [event.sequence_number for event in events] == list(range(len(events)))
    assert events[0].type == "response.created" and events[-1].type in ("response.completed", "response.incomplete")
    response_id = events[0].response.id
    replayed = list(client.responses.retrieve(response_id, stream=True))
    assert [event.model_dump() for event in replayed] == [event.model_dump() for event in events]
    tail = list(client.responses.retrieve(response_id, stream=True, starting_after=3))
    assert [event.sequence_number for event in tail] == list(range(4, len(events)))


def test_cancel_a_background_response(client):
    queued = client.responses.create(model=TEST_MODEL, input=LONG, max_output_tokens=2000, background=True)
    stream = client.responses.retrieve(queued.id, stream=True)
    for event in stream:  # it runs
        if event.type == "response.output_text.delta":
            break
    with pytest.raises(openai.BadRequestError) as caught:  # its context is not there yet
        client.responses.create(model=TEST_MODEL, input="Go on.", previous_response_id=queued.id)
    assert caught.value.body["param"] == "previous_response_id"
    cancelled = client.responses.cancel(queued.id)
    assert cancelled.status == "cancelled"
    time.sleep(1)
    assert client.responses.retrieve(queued.id).status == "cancelled"
    assert client.responses.cancel(queued.id).status == "cancelled"  # again: answered as it is
    foreground = client.responses.create(model=TEST_MODEL, input="Hi", max_output_tokens=2)
    with pytest.raises(openai.BadRequestError):
        client.responses.cancel(foreground.id)
    with pytest.raises(openai.BadRequestError):
        client.responses.retrieve(foreground.id, stream=True).close()


def test_a_follower_that_leaves_does_not_stop_the_response(client):
    stream = client.responses.create(model=TEST_MODEL, input="Count from one to twenty.", max_output_tokens=60,
                                     background=True, stream=True)
    response_id = next(event.response.id for event in stream if event.type == "response.created")
    stream.close()
    assert wait_until_ended(client, response_id).status in ("completed", "incomplete")


def test_background_must_be_stored_and_its_model_exist(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model=TEST_MODEL, input="Hi", background=True, store=False)
    assert caught.value.body["param"] == "store"
    with pytest.raises(openai.NotFoundError) as caught:
        client.responses.create(model="no-such-model", input="Hi", background=True)
    assert caught.value.body["code"] == "model_not_found"


def replicas_stack(stack, mongo_url, count: int, **settings: str) -> dict:
    """`stack` with the chat service, `count` responses replicas (`settings` as VIVIAN_* variables)
    and the edge; the replicas' processes by log name."""
    stack.start_nats()
    stack.key = make_key(stack.nats_url)
    stack.start_chat(local_models_toml())
    env = {**responses_env(mongo_url), **{f"VIVIAN_{k.upper()}": v for k, v in settings.items()}}
    for n in range(count):
        stack.start_responses(env, replica=n + 1)
    stack.start_edge()
    stack.responses_env = env
    return {name: proc for name, proc in stack.procs.items() if name.startswith("responses")}


def test_a_replica_killed_mid_response_leaves_it_failed_never_in_progress(new_stack, mongo_url):
    """Two replicas share the work; the one running a background response is killed (-9). After
    `ack_wait` JetStream hands the turn to the other, which ends it `failed` with an error (and a
    terminal event for whoever follows its stream)."""
    replicas = replicas_stack(new_stack, mongo_url, 2, ack_wait="2")
    client = sdk_client(new_stack, new_stack.key)
    queued = client.responses.create(model=TEST_MODEL, input=LONG, max_output_tokens=4000, background=True)
    deadline = time.monotonic() + 60
    while not (running := [name for name in replicas if f"{queued.id}: running" in new_stack.read_log(name)]):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    os.kill(replicas[running[0]].pid, signal.SIGKILL)
    ended = wait_until_ended(client, queued.id)
    assert ended.status == "failed" and ended.error.code == "server_error" and ended.error.message
    events = list(client.responses.retrieve(queued.id, stream=True))
    assert events[-1].type == "response.failed"


def test_a_replica_killed_mid_stream_leaves_its_stored_response_failed(new_stack, mongo_url):
    """A foreground turn's stored response is kept alive by its replica; killed (-9), the replica
    stops renewing it, and another replica's sweep ends it `failed`."""
    replicas = replicas_stack(new_stack, mongo_url, 1, lease="2", sweep_interval="0.5")
    client = sdk_client(new_stack, new_stack.key)
    stream = client.responses.create(model=TEST_MODEL, input=LONG, max_output_tokens=4000, stream=True)
    response_id = next(event.response.id for event in stream if event.type == "response.created")
    os.kill(replicas["responses"].pid, signal.SIGKILL)
    new_stack.start_responses(new_stack.responses_env, replica=2)
    ended = wait_until_ended(client, response_id)
    assert ended.status == "failed" and ended.error.message
    stream.close()
