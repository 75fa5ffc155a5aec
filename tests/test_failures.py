"""Streams fail loudly and never hang: disconnects cancel, dead services become errors."""

import os
import re
import signal
import time

import aiohttp
import openai
import pytest

from tests.stack import TEST_MODEL, local_models_toml, make_key

LONG = [{"role": "user", "content": "Write a very long story about a dragon and a knight."}]


def wait_for_log(stack, name: str, pattern: str, timeout: float = 60) -> re.Match:
    deadline = time.monotonic() + timeout
    while not (found := re.search(pattern, stack.read_log(name))):
        assert time.monotonic() < deadline, f"{pattern!r} not in the {name} log:\n{stack.read_log(name)[-3000:]}"
        time.sleep(0.05)
    return found


async def test_client_disconnect_stops_generation(stack):
    body = {"model": TEST_MODEL, "messages": LONG, "max_tokens": 1500, "stream": True, "temperature": 0}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as http:
        resp = await http.post(f"{stack.base_url}/chat/completions", json=body,
                               headers={"Authorization": f"Bearer {stack.key}"})
        request_id = resp.headers["x-request-id"]
        events = 0
        async for line in resp.content:
            events += line.startswith(b"data: ")
            if events >= 5:
                break
        resp.close()  # drops the connection, as a client that gives up does
    # The response is closed: the edge sees the disconnect, publishes a cancel, the chat service
    # stops llama.cpp and logs how many chunks it had sent by then.
    wait_for_log(stack, "edge", rf"request_id={request_id} client disconnected")
    found = wait_for_log(stack, "chat", rf"request_id={request_id} cancelled chunks=(\d+)")
    assert int(found[1]) < 300, "generation ran on long after the client left"


def test_no_chat_service_is_503(new_stack):
    new_stack.start_nats()
    new_stack.key = make_key(new_stack.nats_url)
    new_stack.start_edge({"VIVIAN_STREAM_IDLE_TIMEOUT": "5"})
    client = openai.OpenAI(base_url=new_stack.base_url, api_key=new_stack.key, max_retries=0, timeout=60)
    for stream in (False, True):
        with pytest.raises(openai.InternalServerError) as caught:
            client.chat.completions.create(model=TEST_MODEL, messages=LONG, stream=stream)
        assert caught.value.status_code == 503
        assert caught.value.body["code"] == "service_unavailable"
    with pytest.raises(openai.InternalServerError):
        client.models.list()


def test_chat_service_killed_mid_stream_ends_the_stream_with_an_error(new_stack):
    new_stack.start_nats()
    new_stack.key = make_key(new_stack.nats_url)
    new_stack.start_chat(local_models_toml())
    new_stack.start_edge({"VIVIAN_STREAM_IDLE_TIMEOUT": "3"})
    client = openai.OpenAI(base_url=new_stack.base_url, api_key=new_stack.key, max_retries=0, timeout=120)
    stream = client.chat.completions.create(model=TEST_MODEL, messages=LONG, max_tokens=1500, stream=True)
    received = 0
    with pytest.raises(openai.APIError) as caught:
        for chunk in stream:
            received += 1
            if received == 3:
                os.kill(new_stack.procs["chat"].pid, signal.SIGKILL)
    assert "stopped responding" in caught.value.message
    assert received < 300


def test_heartbeats_keep_a_slow_answer_alive(new_stack):
    """A long prefill sends no chunks for longer than the idle timeout; heartbeats bridge the gap."""
    new_stack.start_nats()
    new_stack.key = make_key(new_stack.nats_url)
    new_stack.start_chat(local_models_toml(), env={"VIVIAN_HEARTBEAT_INTERVAL": "0.2"})
    new_stack.start_edge({"VIVIAN_STREAM_IDLE_TIMEOUT": "1"})
    client = openai.OpenAI(base_url=new_stack.base_url, api_key=new_stack.key, max_retries=0, timeout=120)
    started = time.monotonic()
    answer = client.chat.completions.create(
        model=TEST_MODEL, messages=[{"role": "user", "content": "Summarise: " + "the cat sat on the mat. " * 80}],
        max_tokens=60)
    if time.monotonic() - started < 1.5:
        pytest.skip("the machine answered faster than the idle timeout; nothing to bridge")
    assert answer.choices[0].message.content is not None


def test_chat_service_stopped_mid_stream_tells_the_client(new_stack):
    new_stack.start_nats()
    new_stack.key = make_key(new_stack.nats_url)
    new_stack.start_chat(local_models_toml(), env={"VIVIAN_DRAIN_TIMEOUT": "0.5"})
    new_stack.start_edge({"VIVIAN_STREAM_IDLE_TIMEOUT": "120"})  # only the service's own word can end it
    client = openai.OpenAI(base_url=new_stack.base_url, api_key=new_stack.key, max_retries=0, timeout=120)
    received = 0
    with pytest.raises(openai.APIError) as caught:
        for chunk in client.chat.completions.create(model=TEST_MODEL, messages=LONG, max_tokens=1500, stream=True):
            received += 1
            if received == 3:
                new_stack.procs["chat"].send_signal(signal.SIGTERM)
    assert "stopped while answering" in caught.value.message
    assert new_stack.procs["chat"].wait(timeout=60) == 0
