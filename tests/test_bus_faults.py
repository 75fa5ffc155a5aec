"""The bus at its edges: sizes past NATS's message limit, a NATS outage, requests past their
deadline, dead services, and stopping while the bus is down."""

import os
import signal
import subprocess
import time

import msgspec
import openai
import pytest
from aiohttp import web

from devstack import nats
from shared import bus, subjects
from shared.protocol.bus import Envelope
from tests.stack import TEST_MODEL, free_port, local_models_toml, make_key
from tests.threaded_app import ThreadedApp

LONG = [{"role": "user", "content": "Write a very long story about a dragon and a knight."}]
UPSTREAM_KEY = "sk-chat-upstream"


class ChatUpstream(ThreadedApp):
    """An OpenAI-compatible chat server that answers with the size of what it received, so a test
    can see a large body arrive whole."""

    def __init__(self, port: int) -> None:
        super().__init__(port)
        self.sizes: list[int] = []

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/v1/chat/completions", self._chat)]

    async def _chat(self, request: web.Request) -> web.Response:
        body = await request.json()
        content = body["messages"][-1]["content"]
        self.sizes.append(len(content))
        return web.json_response({
            "id": "chatcmpl-upstream", "object": "chat.completion", "created": int(time.time()),
            "model": body["model"], "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None, "message": {
                "role": "assistant", "content": f"received {len(content)} characters", "refusal": None}}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 3, "total_tokens": 4}})


def sdk(stack, timeout: float = 120) -> openai.OpenAI:
    return openai.OpenAI(base_url=stack.base_url, api_key=stack.key, max_retries=0, timeout=timeout)


# ------------------------------------------------------------------ sizes


def test_2048_float_embeddings_come_back_whole(client):
    """2048 × 384 floats are about 8 MB of JSON, eight times NATS's message limit."""
    inputs = [f"sentence number {i} about the weather" for i in range(2048)]
    answer = client.embeddings.create(model="text-embedding-3-small", input=inputs, encoding_format="float")
    assert len(answer.data) == 2048
    assert [d.index for d in answer.data] == list(range(2048))
    assert all(len(d.embedding) == 384 for d in answer.data)
    b64 = client.embeddings.with_raw_response.create(model="text-embedding-3-small", input=inputs,
                                                      encoding_format="base64").parse()
    assert len(b64.data) == 2048


def test_20mb_chat_body_reaches_the_upstream(new_stack):
    upstream = ChatUpstream(free_port())
    upstream.start()
    try:
        new_stack.start_nats()
        new_stack.key = make_key(new_stack.nats_url)
        new_stack.start_chat(local_models_toml(f"""
[[models]]
id = "big-relay"
provider = "openai"
base_url = "{upstream.base_url}"
api_key_env = "VIVIAN_TEST_UPSTREAM_KEY"
"""), env={"VIVIAN_TEST_UPSTREAM_KEY": UPSTREAM_KEY})
        new_stack.start_edge()
        content = "x" * (20 * 1024 * 1024)
        answer = sdk(new_stack, timeout=300).chat.completions.create(
            model="big-relay", messages=[{"role": "user", "content": content}])
        assert answer.choices[0].message.content == f"received {len(content)} characters"
        assert upstream.sizes == [len(content)]
    finally:
        upstream.stop()


# ------------------------------------------------------------------ deadlines


async def test_a_request_past_its_deadline_is_dropped_unanswered(stack):
    """What reaches a service after its deadline (it sat in a buffer while the caller gave up)
    never runs: no answer, and the service's log says why."""
    nc = await bus.connect(stack.nats_url, name="tests", credentials=stack.auth.path("edge"))
    try:
        late = Envelope(request_id="req_late_deadline_test", body=msgspec.Raw(b'"smollm2-135m-instruct"'),
                        deadline=time.time() - 5)
        with pytest.raises(Exception) as caught:
            await nc.request(subjects.MODELS_RETRIEVE, msgspec.json.encode(late), timeout=3)
        assert type(caught.value).__name__ == "TimeoutError"
        on_time = Envelope(request_id="req_on_time_test", body=msgspec.Raw(b'"smollm2-135m-instruct"'),
                           deadline=time.time() + 60)
        reply = await nc.request(subjects.MODELS_RETRIEVE, msgspec.json.encode(on_time), timeout=60)
        assert b"smollm2-135m-instruct" in reply.data
    finally:
        await nc.close()
    assert "request_id=req_late_deadline_test dropped" in stack.read_log("chat")


# ------------------------------------------------------------------ NATS down


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout}s"
        time.sleep(0.2)


def _answers(client: openai.OpenAI) -> bool:
    try:
        client.models.list()
        return True
    except openai.APIError:
        return False


def test_nats_outage_fails_fast_logs_once_and_replays_nothing(batch_stack):
    """NATS killed under chat, embeddings, files, jobs and the edge, then started again."""
    built = batch_stack(chat=True)
    new_stack, client = built.stack, built.client
    port = int(new_stack.nats_url.rsplit(":", 1)[1])
    assert client.chat.completions.create(model=TEST_MODEL, messages=[{"role": "user", "content": "Hi"}],
                                          max_tokens=2).choices
    names = ("chat", "embeddings", "files", "jobs", "edge")
    logs_before = {name: len(new_stack.read_log(name)) for name in names}

    os.kill(new_stack.procs["nats"].pid, signal.SIGKILL)
    new_stack.procs.pop("nats").wait()
    time.sleep(1.0)  # both sides notice the dropped connection
    failed_ids = []
    for stream in (False, True):
        started = time.monotonic()
        with pytest.raises(openai.APIStatusError) as caught:
            client.chat.completions.create(model=TEST_MODEL, messages=LONG, max_tokens=5, stream=stream)
        took = time.monotonic() - started
        print(f"with NATS down, stream={stream} answered {caught.value.status_code} in {took:.2f}s")
        assert caught.value.status_code == 503
        assert caught.value.body["code"] == "service_unavailable"
        failed_ids.append(caught.value.response.headers["x-request-id"])
    with pytest.raises(openai.APIStatusError) as caught:
        client.files.list()
    assert caught.value.status_code == 503
    failed_ids.append(caught.value.response.headers["x-request-id"])
    time.sleep(5.0)  # an outage of some seconds: reconnect attempts every 0.5 s, jobs' pulls every second

    restarted = time.monotonic()
    proc, url = nats.start(os.path.join(new_stack.home, "nats"), port=port, config=new_stack.auth.config)
    new_stack.procs["nats"] = proc
    assert url == new_stack.nats_url
    _wait(lambda: _answers(client), 120, "the stack answering again")
    print(f"answering again {time.monotonic() - restarted:.2f}s after NATS restarted")
    time.sleep(2.0)  # room for anything buffered to arrive late, as it did before
    for request_id in failed_ids:
        for name in ("chat", "files"):
            assert request_id not in new_stack.read_log(name), "a request answered 503 ran after NATS came back"
    for name in names:
        outage = new_stack.read_log(name)[logs_before[name]:]
        assert "Traceback" not in outage, f"{name} logged a traceback during the outage:\n{outage}"
        nats_lines = [line for line in outage.splitlines() if "NATS" in line or "nats" in line]
        assert len(nats_lines) <= 4, f"{name} logged the outage more than once per change:\n{outage}"
        assert "lost the NATS connection" in outage and "NATS connection back" in outage


def test_a_service_killed_mid_stream_is_an_error_event_within_seconds(new_stack):
    """With the default settings (heartbeats every second, 3 s of silence ends a call)."""
    new_stack.start_nats()
    new_stack.key = make_key(new_stack.nats_url)
    new_stack.start_chat(local_models_toml(), env={"VIVIAN_HEARTBEAT_INTERVAL": "1"})
    new_stack.start_edge()
    stream = sdk(new_stack).chat.completions.create(model=TEST_MODEL, messages=LONG, max_tokens=1500, stream=True)
    received, killed = 0, 0.0
    with pytest.raises(openai.APIError) as caught:
        for _ in stream:
            received += 1
            if received == 3:
                os.kill(new_stack.procs["chat"].pid, signal.SIGKILL)
                killed = time.monotonic()
    took = time.monotonic() - killed
    print(f"error event {took:.2f}s after the kill")
    assert "stopped responding" in caught.value.message
    assert took < 20, "the edge waited out the old 30 s idle timeout"


def test_services_stop_promptly_on_sigterm_while_nats_is_down(batch_stack):
    built = batch_stack(chat=True)
    stack = built.stack
    procs = {"chat": stack.procs["chat"], "embeddings": stack.procs["embeddings"], "files": built.files.procs[0],
             "jobs": built.jobs.procs[0], "edge": stack.procs["edge"]}
    os.kill(stack.procs["nats"].pid, signal.SIGKILL)
    stack.procs.pop("nats").wait()
    time.sleep(2.0)
    for name, proc in procs.items():
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{name} did not stop within 60 s of SIGTERM with NATS down:\n{stack.read_log(name)[-3000:]}")
        print(f"{name} stopped {time.monotonic() - started:.2f}s after SIGTERM with NATS down (exit {code})")
        assert code == 0, stack.read_log(name)[-3000:]
        assert "Traceback" not in stack.read_log(name), stack.read_log(name)[-3000:]
