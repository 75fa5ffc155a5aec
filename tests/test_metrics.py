"""Metrics: Prometheus text at the edge's /metrics, and the same families in each service's NATS
micro `$SRV.STATS` (with `$SRV.PING` and `$SRV.INFO`, so `nats micro ls` lists it)."""

import json
import re
import urllib.request

import openai
import pytest

from shared import bus
from shared.metrics import MAX_MODEL_CHARS, MAX_MODELS, OTHER, UNKNOWN, Metrics, render
from tests.stack import TEST_MODEL

ROUTE = "/v1/chat/completions"
_LINE = re.compile(r'^(?P<name>[a-z_]+)(?:\{(?P<labels>.*)\})? (?P<value>\S+)$')
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def parse(text: str) -> dict[tuple[str, frozenset], float]:
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            found = _LINE.match(line)
            assert found, f"not a Prometheus sample line: {line!r}"
            labels = frozenset(_LABEL.findall(found["labels"] or ""))
            samples[found["name"], labels] = float(found["value"])
    return samples


def scrape(stack) -> dict[tuple[str, frozenset], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{stack.port}/metrics", timeout=10) as resp:  # no key needed
        assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return parse(resp.read().decode())


def value(samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_metrics_render_and_stay_bounded():
    m = Metrics()
    weird = 'we"ird\\route'
    m.request(weird, "gpt-4", 200, 0.003)
    m.request(weird, "gpt-4", 200, 0.5)
    m.tokens("a", prompt=3, completion=4)
    for i in range(MAX_MODELS + 10):
        m.request(ROUTE, f"random-{i}", 400, 0.001)
    samples = parse(render(m.snapshot()))
    bucket = "vivian_request_duration_seconds_bucket"
    route = weird.replace("\\", "\\\\").replace('"', '\\"')
    assert value(samples, bucket, route=route, model="gpt-4", le="0.005") == 1
    assert value(samples, bucket, route=route, model="gpt-4", le="+Inf") == 2
    assert value(samples, "vivian_tokens_total", model="a", kind="output") == 4
    # Two names ("gpt-4", "a") and MAX_MODELS - 2 random ones fill the table; 12 random ones spill over.
    assert value(samples, "vivian_requests_total", route=ROUTE, model=OTHER, status="400") == 12
    assert m.totals() == (MAX_MODELS + 12, MAX_MODELS + 10, pytest.approx(0.503 + 0.001 * (MAX_MODELS + 10)))


def test_model_labels_are_known_short_names():
    """A name the service answered 404 for, a huge one or one with odd characters is "unknown", and
    takes no place in the table: a hostile client cannot fill it, nor grow /metrics."""
    m = Metrics()
    for name in ("x" * 1_000_000, "no-such-model", 'a"b', "a b", "é", "x" * (MAX_MODEL_CHARS + 1)):
        m.request(ROUTE, name, 404 if name == "no-such-model" else 400, 0.001)
    m.request(ROUTE, "ft:gpt-4o-mini:org:custom:abc123", 200, 0.001)
    m.request(ROUTE, "Qwen/Qwen2.5-Coder-0.5B-Instruct", 200, 0.001)
    m.request("/v1/files/{file_id}", "", 404, 0.001)  # a route that names no model keeps ""
    text = render(m.snapshot())
    samples = parse(text)
    assert value(samples, "vivian_requests_total", route=ROUTE, model=UNKNOWN, status="400") == 5
    assert value(samples, "vivian_requests_total", route=ROUTE, model=UNKNOWN, status="404") == 1
    assert value(samples, "vivian_requests_total", route=ROUTE, model="Qwen/Qwen2.5-Coder-0.5B-Instruct",
                 status="200") == 1
    assert value(samples, "vivian_requests_total", route="/v1/files/{file_id}", model="", status="404") == 1
    assert len(text) < 20_000
    for _ in range(MAX_MODELS):  # none of the unknown names took a place: a new real one still gets its own
        m.request(ROUTE, "no-such-model", 404, 0.001)
    m.request(ROUTE, "gpt-4", 200, 0.001)
    assert value(parse(render(m.snapshot())), "vivian_requests_total", route=ROUTE, model="gpt-4", status="200") == 1


def test_edge_counts_requests_tokens_and_streams(stack, client):
    before = scrape(stack)
    answer = client.chat.completions.create(model=TEST_MODEL, messages=[{"role": "user", "content": "Hi"}],
                                            max_tokens=3)
    chunks = list(client.chat.completions.create(model=TEST_MODEL, messages=[{"role": "user", "content": "Hi"}],
                                                 max_tokens=3, stream=True, stream_options={"include_usage": True}))
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "Hi"}])
    after = scrape(stack)

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("vivian_requests_total", route=ROUTE, model=TEST_MODEL, status="200") == 2
    assert delta("vivian_requests_total", route=ROUTE, model=UNKNOWN, status="404") == 1  # no label of its own
    assert ("vivian_requests_total", frozenset({("route", ROUTE), ("model", "no-such-model"), ("status", "404")})) \
        not in after
    assert delta("vivian_request_duration_seconds_count", route=ROUTE, model=TEST_MODEL) == 2
    assert delta("vivian_time_to_first_chunk_seconds_count", route=ROUTE, model=TEST_MODEL) == 1
    prompt = answer.usage.prompt_tokens + chunks[-1].usage.prompt_tokens
    completion = answer.usage.completion_tokens + chunks[-1].usage.completion_tokens
    assert delta("vivian_tokens_total", model=TEST_MODEL, kind="input") == prompt
    assert delta("vivian_tokens_total", model=TEST_MODEL, kind="output") == completion
    assert value(after, "vivian_streams_open", route=ROUTE) == 0


async def _micro(stack, verb: str) -> dict:
    nc = await bus.connect(stack.nats_url, name="tests", credentials=stack.auth.path("edge"))
    try:
        return json.loads((await nc.request(f"$SRV.{verb}.vivian-chat", b"", timeout=5)).data)
    finally:
        await nc.close()


async def test_chat_service_speaks_the_micro_api(stack, aclient):
    ping, info = await _micro(stack, "PING"), await _micro(stack, "INFO")
    assert ping["type"] == "io.nats.micro.v1.ping_response" and ping["name"] == "vivian-chat"
    assert {e["subject"] for e in info["endpoints"]} >= {"vivian.chat.completions", "vivian.models.list"}

    before = {e["name"]: e for e in (await _micro(stack, "STATS"))["endpoints"]}["chat_completions"]
    await aclient.chat.completions.create(model=TEST_MODEL, messages=[{"role": "user", "content": "Hi"}],
                                          max_tokens=2)
    with pytest.raises(openai.NotFoundError):
        await aclient.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "Hi"}])
    stats = await _micro(stack, "STATS")
    assert stats["type"] == "io.nats.micro.v1.stats_response"
    after = {e["name"]: e for e in stats["endpoints"]}["chat_completions"]
    assert after["num_requests"] - before["num_requests"] == 2
    assert after["num_errors"] - before["num_errors"] == 1
    assert after["last_error"].startswith("404 ")
    # Measured over the whole request, not just the handler that starts its task (microseconds):
    # a local-model answer takes milliseconds.
    assert after["processing_time"] - before["processing_time"] > 1_000_000
    families = {f["name"]: f for f in after["data"]["families"]}
    requests = {(s["labels"]["model"], s["labels"]["status"]): s["value"]
                for s in families["vivian_requests_total"]["samples"]}
    assert requests[TEST_MODEL, "200"] >= 1 and requests[UNKNOWN, "404"] >= 1  # a 404'd name has no label
    assert {s["labels"]["route"] for s in families["vivian_requests_total"]["samples"]} == {ROUTE}
    assert families["vivian_request_duration_seconds"]["histograms"][0]["count"] >= 1
