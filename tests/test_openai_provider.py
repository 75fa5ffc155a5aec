"""The `openai` provider against real OpenAI-compatible servers on loopback.

`relay-smollm2` routes to this same stack's edge (a real Vivian: another OpenAI-compatible server).
A small recording server shows exactly what goes upstream.
"""

import json

import msgspec
import openai
import pytest
from aiohttp import web

from services.chat.providers.base import Call
from services.chat.providers.openai_compat import OpenAICompat
from shared.modelconfig import OpenAIModel
from shared.protocol.chat import ChatCompletionRequest

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


def test_relay_plain(client):
    answer = client.chat.completions.create(model="relay-smollm2", messages=QUESTION, max_tokens=4, seed=1)
    assert answer.object == "chat.completion" and answer.choices[0].finish_reason == "length"
    assert answer.usage.completion_tokens == 4
    assert answer.model == "smollm2-135m-instruct"  # the upstream's answer, untouched


def test_relay_stream_chunk_by_chunk(client):
    chunks = list(client.chat.completions.create(model="relay-smollm2", messages=QUESTION, max_tokens=5, seed=1,
                                                 stream=True, stream_options={"include_usage": True}))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].usage.completion_tokens == 5
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.content) >= 3


def test_relay_legacy_completions(client):
    answer = client.completions.create(model="relay-smollm2", prompt="Once upon a time", max_tokens=3, seed=1)
    assert answer.object == "text_completion" and answer.usage.completion_tokens == 3


def test_upstream_error_keeps_status_and_shape(client):
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="relay-missing", messages=QUESTION)
    assert caught.value.body["code"] == "model_not_found"
    assert "no-such-model" in caught.value.body["message"]
    with pytest.raises(openai.BadRequestError) as caught:  # upstream validation, relayed
        client.chat.completions.create(model="relay-smollm2", messages=QUESTION, stream=True,
                                       extra_body={"max_tokens": -1})
    assert caught.value.body["param"] == "max_tokens"


def test_unreachable_upstream_is_502(client):
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="relay-unreachable", messages=QUESTION)
    assert caught.value.status_code == 502
    assert caught.value.body["code"] == "upstream_unreachable"


class Recorder:
    """A loopback OpenAI-compatible server that answers canned bytes and keeps what it received."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict, dict]] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.seen.append((request.path, dict(request.headers), body))
        if body.get("stream"):
            resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await resp.prepare(request)
            for piece in ("a", "b"):
                await resp.write(b'data: {"id":"x","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"'
                                 + piece.encode() + b'"}}]}\n\n')
            await resp.write(b"data: [DONE]\n\n")
            return resp
        return web.json_response({"id": "x", "object": "chat.completion", "extra_upstream_field": 1})


@pytest.fixture
async def recorder():
    rec = Recorder()
    app = web.Application()
    app.router.add_post("/v1/chat/completions", rec.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    rec.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/v1"
    yield rec
    await runner.cleanup()


def _call(raw: dict) -> Call:
    body = json.dumps(raw).encode()
    return Call(endpoint="chat/completions", request=msgspec.json.decode(body, type=ChatCompletionRequest),
                raw=body, model=raw["model"], request_id="req_test")


async def test_every_client_field_goes_upstream(recorder, monkeypatch):
    """Unknown fields and image parts alike reach the upstream as the client sent them."""
    monkeypatch.setenv("UPSTREAM_KEY", "sk-upstream")
    provider = OpenAICompat(OpenAIModel(id="mine", base_url=recorder.url, api_key_env="UPSTREAM_KEY",
                                        upstream_model="theirs"))
    await provider.start()
    try:
        vision = [{"role": "user", "content": [
            {"type": "text", "text": "What is in this picture?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"}}]}]
        sent = {"model": "mine", "messages": vision, "temperature": 0.3, "reasoning_effort": "low",
                "some_future_field": {"nested": [1, 2]}, "max_completion_tokens": 7}
        answer = json.loads(await provider.create(_call(sent)))
        assert answer["extra_upstream_field"] == 1  # upstream bytes relayed as they are
        path, headers, body = recorder.seen[0]
        assert path == "/v1/chat/completions" and headers["Authorization"] == "Bearer sk-upstream"
        assert body == {**sent, "model": "theirs"}
        chunks = [json.loads(c) async for c in provider.stream(_call({**sent, "stream": True}))]
        assert [c["choices"][0]["delta"]["content"] for c in chunks] == ["a", "b"]
    finally:
        await provider.close()
