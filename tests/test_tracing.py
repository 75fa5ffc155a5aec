"""One trace per request: edge → NATS message headers → chat service → upstream HTTP call.

The first tests run the edge app and the chat service in this process, each with its own tracer
provider (as two processes would have) writing to one in-memory exporter, over a real nats-server
and a real upstream on loopback. The last one runs them as the processes `make up` starts,
exporting over OTLP/HTTP to a collector in this test.
"""

import asyncio
import json
import socket
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import aiohttp
import msgspec
import openai
import pytest
from aiohttp import web
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from devstack import credentials, nats, processes
from devstack.credentials import BusAuth
from services.audio.registry import audio_registry
from services.chat.providers.base import Call
from services.chat.providers.openai_compat import OpenAICompat
from services.chat.registry import Registry
from services.chat.service import ChatService
from services.edge import keys
from services.edge.app import create_app
from services.edge.settings import EdgeSettings
from shared import bus, telemetry
from shared.modelconfig import ModelConfig, OpenAIModel
from shared.protocol.audio import SpeechRequest
from shared.protocol.chat import ChatCompletionRequest
from tests.stack import free_port, make_key

USAGE = {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17}
CLIENT_TRACE = "0af7651916cd43dd8448eb211c80319c"
CLIENT_SPAN = "b7ad6b7169203331"
STUB = Path(__file__).resolve().parent.parent / "bench" / "upstream_stub.py"


class Upstream:
    """An OpenAI-compatible server that keeps the trace header of each request."""

    def __init__(self) -> None:
        self.traceparents: list[str | None] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.traceparents.append(request.headers.get("traceparent"))
        if body.get("stream"):
            resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await resp.prepare(request)
            for piece in ("Pa", "ris"):
                chunk = {"id": "x", "object": "chat.completion.chunk", "choices": [
                    {"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
                await resp.write(f"data: {json.dumps(chunk)}\n\n".encode())
            await resp.write(f"data: {json.dumps({'id': 'x', 'choices': [], 'usage': USAGE})}\n\n".encode())
            await resp.write(b"data: [DONE]\n\n")
            return resp
        return web.json_response({"id": "x", "object": "chat.completion", "model": body["model"], "choices": [
            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "Paris"}}],
            "usage": USAGE})


async def serve(app: web.Application) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]


def provider(name: str, exporter: InMemorySpanExporter) -> TracerProvider:
    tp = TracerProvider(resource=Resource.create({"service.name": name}))
    tp.add_span_processor(SimpleSpanProcessor(exporter))
    return tp


@pytest.fixture(scope="module")
def bus_auth(tmp_path_factory) -> BusAuth:
    return credentials.ensure(str(tmp_path_factory.mktemp("credentials")))


@pytest.fixture(scope="module")
def bus_url(tmp_path_factory, bus_auth):
    proc, url = nats.start(str(tmp_path_factory.mktemp("nats")), config=bus_auth.config)
    yield url
    processes.stop(proc)


@dataclass
class Traced:
    base_url: str  # the edge's
    key: str
    upstream: Upstream
    upstream_url: str
    exporter: InMemorySpanExporter


@pytest.fixture
async def traced(bus_url, bus_auth):
    """The edge app and the chat service in this process, each tracing into one in-memory exporter."""
    exporter, upstream = InMemorySpanExporter(), Upstream()
    up_app = web.Application()
    up_app.router.add_post("/v1/chat/completions", upstream.handle)
    up_runner, up_port = await serve(up_app)
    chat_tp, edge_tp = provider("vivian-chat", exporter), provider("vivian-edge", exporter)
    upstream_url = f"http://127.0.0.1:{up_port}/v1"
    registry = Registry(ModelConfig(models=[OpenAIModel(
        id="traced", base_url=upstream_url, api_key_env=None, upstream_model="up-model")]), tracer_provider=chat_tp)
    await registry.start()
    nc = await bus.connect(bus_url, name="test-chat", credentials=bus_auth.path("chat"))
    service = ChatService(nc, registry, heartbeat_interval=1.0, tracer_provider=chat_tp)
    await service.start()
    admin = await bus.connect(bus_url, name="test-keys", credentials=bus_auth.path("keys"))
    key = (await keys.create_key(admin.jetstream(), name="tracing"))[0]
    await admin.close()
    edge = EdgeSettings(nats_url=bus_url, nats_credentials=bus_auth.path("edge"))
    edge_runner, edge_port = await serve(create_app(edge, tracer_provider=edge_tp))
    try:
        yield Traced(f"http://127.0.0.1:{edge_port}/v1", key, upstream, upstream_url, exporter)
    finally:
        await edge_runner.cleanup()
        await service.stop(drain_timeout=1)
        await nc.drain()
        await registry.close()
        await up_runner.cleanup()


async def spans_of(exporter: InMemorySpanExporter, trace_id: int, count: int) -> list:
    deadline = time.monotonic() + 5
    while len(found := [s for s in exporter.get_finished_spans() if s.context.trace_id == trace_id]) < count:
        assert time.monotonic() < deadline, f"expected {count} spans, got {[s.name for s in found]}"
        await asyncio.sleep(0.02)
    return found


def one(spans: list, service: str, kind: SpanKind):
    [span] = [s for s in spans if s.resource.attributes["service.name"] == service and s.kind == kind]
    return span


async def test_one_trace_covers_edge_chat_and_upstream(traced):
    base_url, key, upstream, exporter = traced.base_url, traced.key, traced.upstream, traced.exporter
    body = {"model": "traced", "messages": [{"role": "user", "content": "Capital of France?"}]}
    async with aiohttp.ClientSession() as http:
        resp = await http.post(f"{base_url}/chat/completions", json=body, headers={
            "Authorization": f"Bearer {key}", "traceparent": f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"})
        assert resp.status == 200 and (await resp.json())["usage"] == USAGE
        request_id = resp.headers["x-request-id"]

    spans = await spans_of(exporter, int(CLIENT_TRACE, 16), 3)
    edge = one(spans, "vivian-edge", SpanKind.SERVER)
    chat = one(spans, "vivian-chat", SpanKind.SERVER)
    call = one(spans, "vivian-chat", SpanKind.CLIENT)
    # The client's trace is continued, and each hop is the child of the one before.
    assert edge.parent.span_id == int(CLIENT_SPAN, 16)
    assert chat.parent.span_id == edge.context.span_id
    assert call.parent.span_id == chat.context.span_id
    assert upstream.traceparents[-1] == f"00-{CLIENT_TRACE}-{call.context.span_id:016x}-01"

    assert edge.name == "POST /v1/chat/completions"
    for span in (edge, chat):
        assert span.attributes["gen_ai.request.model"] == "traced"
        assert span.attributes["vivian.request_id"] == request_id
        assert (span.attributes["gen_ai.usage.input_tokens"], span.attributes["gen_ai.usage.output_tokens"]) == (12, 5)
    assert edge.attributes["http.response.status_code"] == 200
    assert chat.attributes["vivian.status_code"] == 200
    assert call.attributes["http.response.status_code"] == 200
    assert call.attributes["gen_ai.request.model"] == "up-model"
    assert call.attributes["url.full"].endswith("/v1/chat/completions")
    # Nested in time too: the upstream call inside the service's work, inside the edge's.
    assert edge.start_time <= chat.start_time <= call.start_time <= call.end_time <= chat.end_time <= edge.end_time


async def test_a_stream_is_one_trace_with_its_usage(traced):
    client = openai.AsyncOpenAI(base_url=traced.base_url, api_key=traced.key, max_retries=0)
    upstream, exporter = traced.upstream, traced.exporter
    stream = await client.chat.completions.create(
        model="traced", messages=[{"role": "user", "content": "Hi"}], stream=True,
        stream_options={"include_usage": True})
    assert "".join([c.choices[0].delta.content async for c in stream if c.choices]) == "Paris"

    trace_id = int(upstream.traceparents[-1].split("-")[1], 16)  # a new trace: the client sent none
    spans = await spans_of(exporter, trace_id, 3)
    edge, chat = one(spans, "vivian-edge", SpanKind.SERVER), one(spans, "vivian-chat", SpanKind.SERVER)
    assert edge.parent is None and chat.parent.span_id == edge.context.span_id
    assert one(spans, "vivian-chat", SpanKind.CLIENT).parent.span_id == chat.context.span_id
    assert chat.attributes["vivian.stream"] is True
    assert edge.attributes["gen_ai.usage.output_tokens"] == chat.attributes["gen_ai.usage.output_tokens"] == 5


async def test_errors_are_in_the_trace(traced):
    exporter = traced.exporter
    async with aiohttp.ClientSession() as http:
        resp = await http.post(f"{traced.base_url}/chat/completions", headers={"Authorization": f"Bearer {traced.key}"},
                               json={"model": "nope", "messages": [{"role": "user", "content": "Hi"}]})
        assert resp.status == 404
        request_id = resp.headers["x-request-id"]
    deadline = time.monotonic() + 5
    while len(mine := [s for s in exporter.get_finished_spans()
                       if s.attributes.get("vivian.request_id") == request_id]) < 2:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)
    chat = next(s for s in mine if s.resource.attributes["service.name"] == "vivian-chat")
    assert chat.attributes["vivian.status_code"] == 404 and chat.attributes["error.type"] == "model_not_found"
    # A client's mistake is not the server's failure (OpenTelemetry's HTTP server convention).
    assert chat.status.status_code != StatusCode.ERROR


async def test_without_tracing_nothing_is_added(traced):
    assert telemetry.provider_from_env("vivian-chat", environ={}) is None  # off by default
    untraced = OpenAICompat(OpenAIModel(id="m", base_url=traced.upstream_url, api_key_env=None))
    await untraced.start()
    try:
        body = b'{"model": "m", "messages": [{"role": "user", "content": "Hi"}]}'
        await untraced.create(Call(endpoint="chat/completions", request=msgspec.json.decode(
            body, type=ChatCompletionRequest), raw=body, model="m", request_id="req_untraced"))
    finally:
        await untraced.close()
    assert traced.upstream.traceparents[-1] is None


async def test_tuned_models_and_audio_upstreams_are_traced_too(traced):
    """Every upstream provider comes from its domain's table with the service's tracer: a tuned
    model's (made as the chat service makes it) and an upstream voice's calls are client spans."""
    voice = Upstream()

    async def speech(request: web.Request) -> web.Response:
        voice.traceparents.append(request.headers.get("traceparent"))
        return web.Response(body=b"RIFF....WAVE", content_type="audio/wav")

    app = web.Application()
    app.router.add_post("/v1/audio/speech", speech)
    runner, port = await serve(app)
    tp = provider("vivian-test", traced.exporter)
    tuned = Registry(ModelConfig(), tracer_provider=tp).make(OpenAIModel(
        id="ft:tuned", base_url=traced.upstream_url, api_key_env=None, upstream_model="up-tuned"))
    voice_entry = OpenAIModel(id="voice", api="speech", base_url=f"http://127.0.0.1:{port}/v1", api_key_env=None,
                              upstream_model="up-voice")
    audio = audio_registry(ModelConfig(models=[voice_entry]), tracer_provider=tp)
    await tuned.start()
    await audio.start()
    try:
        body = b'{"model": "ft:tuned", "messages": [{"role": "user", "content": "Hi"}]}'
        await tuned.create(Call(endpoint="chat/completions", request=msgspec.json.decode(
            body, type=ChatCompletionRequest), raw=body, model="ft:tuned", request_id="req_tuned"))
        raw = b'{"model": "voice", "input": "Hi", "voice": "alloy"}'
        content_type, pieces = await audio.provider("voice", "/v1/audio/speech").speak(
            msgspec.json.decode(raw, type=SpeechRequest), raw=raw, request_id="req_voice")
        assert content_type == "audio/wav" and b"".join([p async for p in pieces]) == b"RIFF....WAVE"
    finally:
        await tuned.close()
        await audio.close()
        await runner.cleanup()
    spans = {s.attributes["gen_ai.request.model"]: s for s in traced.exporter.get_finished_spans()
             if s.kind == SpanKind.CLIENT}
    for span, seen in ((spans["up-tuned"], traced.upstream), (spans["up-voice"], voice)):
        trace_id, span_id = seen.traceparents[-1].split("-")[1:3]
        assert (int(trace_id, 16), int(span_id, 16)) == (span.context.trace_id, span.context.span_id)
        assert span.attributes["http.response.status_code"] == 200


# ---------------------------------------------------------------------- across processes, over OTLP

class Collector(BaseHTTPRequestHandler):
    """An OTLP/HTTP endpoint: keeps every span it is sent, with its service's name."""

    spans: list[tuple[str, object]] = []

    def do_POST(self) -> None:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

        request = ExportTraceServiceRequest()
        request.ParseFromString(self.rfile.read(int(self.headers["Content-Length"])))
        for resource_spans in request.resource_spans:
            name = next(a.value.string_value for a in resource_spans.resource.attributes if a.key == "service.name")
            for scope in resource_spans.scope_spans:
                self.server.spans.extend((name, span) for span in scope.spans)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def collector():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    server.spans = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


def test_processes_export_one_trace_over_otlp(new_stack, collector):
    stub_port = free_port()
    stub = processes.spawn([sys.executable, str(STUB), "--port", str(stub_port)], log_path=new_stack.log("stub"))
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", stub_port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline and stub.poll() is None
                time.sleep(0.05)
        otel = {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{collector.server_address[1]}",
                "OTEL_BSP_SCHEDULE_DELAY": "50"}
        new_stack.start_nats()
        new_stack.key = make_key(new_stack.nats_url)
        new_stack.start_chat(f'[[models]]\nid = "stubbed"\nprovider = "openai"\n'
                             f'base_url = "http://127.0.0.1:{stub_port}/v1"\napi_key_env = "NO_KEY"\n', env=otel)
        new_stack.start_edge(otel)
        client = openai.OpenAI(base_url=new_stack.base_url, api_key=new_stack.key, max_retries=0, timeout=30)
        raw = client.chat.completions.with_raw_response.create(
            model="stubbed", messages=[{"role": "user", "content": "Hi"}])
        request_id = raw.headers["x-request-id"]

        def attribute(span, key):
            return next((a.value for a in span.attributes if a.key == key), None)

        deadline = time.monotonic() + 15
        while True:
            mine = [(name, s) for name, s in list(collector.spans)
                    if (a := attribute(s, "vivian.request_id")) is not None and a.string_value == request_id]
            if {name for name, _ in mine} == {"vivian-edge", "vivian-chat"} and len(mine) == 3:
                break
            assert time.monotonic() < deadline, f"spans so far: {[(n, s.name) for n, s in mine]}"
            time.sleep(0.05)
        assert len({s.trace_id for _, s in mine}) == 1
        edge = next(s for n, s in mine if n == "vivian-edge")
        chat = next(s for n, s in mine if n == "vivian-chat" and s.parent_span_id == edge.span_id)
        assert any(s.parent_span_id == chat.span_id for n, s in mine if n == "vivian-chat")
        assert attribute(edge, "gen_ai.usage.input_tokens").int_value == 12
    finally:
        processes.stop(stub)
