"""Every answer carries `x-request-id`, and that id is in the log of every service that touched it."""

import time

import openai

from tests.stack import TEST_MODEL


def wait_in_log(stack, name: str, needle: str) -> str:
    deadline = time.monotonic() + 30
    while needle not in (text := stack.read_log(name)):
        assert time.monotonic() < deadline, f"{needle} not in {name} log"
        time.sleep(0.05)
    return text


def test_plain_answer_id_in_edge_and_chat_logs(stack, client):
    raw = client.chat.completions.with_raw_response.create(
        model=TEST_MODEL, messages=[{"role": "user", "content": "Hi"}], max_tokens=2)
    request_id = raw.headers["x-request-id"]
    assert request_id.startswith("req_") and len(request_id) == 36
    assert raw.parse().choices
    wait_in_log(stack, "edge", request_id)
    wait_in_log(stack, "chat", request_id)


def test_stream_carries_request_id(stack, client):
    with client.chat.completions.with_streaming_response.create(
            model=TEST_MODEL, messages=[{"role": "user", "content": "Hi"}], max_tokens=2, stream=True) as resp:
        request_id = resp.headers["x-request-id"]
        assert resp.headers["content-type"].startswith("text/event-stream")
        assert resp.headers["cache-control"] == "no-cache"
        list(resp.iter_lines())
    wait_in_log(stack, "chat", request_id)


def test_errors_carry_request_id(stack, client):
    for call in (lambda: client.models.retrieve("nope"),
                 lambda: openai.OpenAI(base_url=stack.base_url, api_key="x", max_retries=0).models.list()):
        try:
            call()
        except openai.APIStatusError as err:
            assert err.request_id and err.request_id.startswith("req_")
            wait_in_log(stack, "edge", err.request_id)
        else:
            raise AssertionError("expected an error")


def test_each_request_gets_its_own_id(client):
    ids = {client.models.with_raw_response.list().headers["x-request-id"] for _ in range(5)}
    assert len(ids) == 5
