"""Schemathesis against every operation the edge implements (issue 12, point 8): zero 5xx, zero
hangs, every error OpenAI's error object.

The operations come from the edge's own routes (`services/edge/routes/*.py`), each looked up in the
repository's copy of OpenAI's description (`spec/openai-openapi.yml`): a new route is fuzzed as soon
as it exists, and one the description lacks fails `test_every_route_is_fuzzed` until it is listed in
`NOT_IN_SPEC` with a reason. Each operation gets schemathesis's positive cases (valid by the
description) and negative ones (each breaking it somewhere), with a fixed seed (`SEED`); `tweaks` swaps in
the stack's real model names, ids and files some of the time, so cases get past "no such model" to
the services, and keeps what the local model is asked to generate small (see `bound`).

The default run sends `EXAMPLES` cases of each kind per operation; `-m slow` runs `SLOW_EXAMPLES`.
"""

import concurrent.futures
import importlib
import io
import json
import math
import pkgutil
import re
import secrets
import struct
import time
import wave
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.transport.serialization import Binary

from services.edge import routes as route_modules
from tests.conformance import SPEC
from tests.image_upstream import png
from tests.stack import TEST_MODEL, make_key

EXAMPLES = 10  # per operation and generation mode in the default run
SLOW_EXAMPLES = 250
SEED = 12  # the same cases on every run (for a given schemathesis and hypothesis)
HANG_S = 120  # a hang is "never answers", not "slow": the machine can be many times slower for minutes

# Edge routes outside OpenAI's description, with the reason they are not fuzzed from it.
NOT_IN_SPEC = {
    ("GET", "/healthz"): "a probe, not part of the API",
    ("GET", "/readyz"): "a probe, not part of the API",
    ("GET", "/metrics"): "Prometheus's text format, not part of the API",
    ("GET", "/v1/images/content/{image_id}"): "Vivian's own signed image links (tests/test_images.py)",
}

# Real names on the session stack, swapped in for the generated ones some of the time (per path).
MODELS = {
    "/chat/completions": [TEST_MODEL, "gpt-4", "relay-smollm2"],
    "/completions": [TEST_MODEL, "gpt-3.5-turbo-instruct", "relay-smollm2"],
    "/embeddings": ["all-minilm-l6-v2", "text-embedding-3-small", "relay-embeddings"],
    "/moderations": ["toxic-bilstm", "omni-moderation-latest", "relay-moderations"],
    "/audio/speech": ["tts-1", "relay-speech"],
    "/audio/transcriptions": ["whisper-1", "whisper-tiny.en", "relay-whisper"],
    "/audio/translations": ["whisper-1", "whisper-tiny.en"],
    "/images/generations": ["dall-e-2", "gpt-image-1"],
    "/images/edits": ["dall-e-2"],
    "/images/variations": ["dall-e-2"],
    "/fine_tuning/jobs": [TEST_MODEL],
    "/models/{model}": [TEST_MODEL, "gpt-4", "all-minilm-l6-v2", "whisper-1", "dall-e-2"],
    "/responses": [TEST_MODEL, "gpt-4"],
    "/responses/input_tokens": [TEST_MODEL, "gpt-4"],
    "/responses/compact": [TEST_MODEL, "gpt-4"],
}
MAX_TOKENS = 8  # what a case may ask the local model to generate, per choice
MAX_CHOICES = 2  # `n`, `best_of`
MAX_ITEMS = 8  # prompts or inputs in one request


def _shape(path: str) -> str:
    """A path with its parameters unnamed: `/v1/models/{model:.+}` and `/v1/models/{model}` match."""
    return re.sub(r"\{[^}]*\}", "{}", path)


def edge_routes() -> list[tuple[str, str]]:
    """(method, path) of every route in services/edge/routes/*.py."""
    found = set()
    for module in pkgutil.iter_modules(route_modules.__path__):
        table = getattr(importlib.import_module(f"{route_modules.__name__}.{module.name}"), "routes", None)
        for route in table or ():
            found.add((route.method, route.path))
    return sorted(found)


def fuzzed_routes() -> list[tuple[str, str]]:
    """Those in the description; the ones that end what they name (delete, cancel) last, so the
    others still find the real file, batch and upload some of their cases use."""
    ending = lambda r: r[0] == "DELETE" or r[1].endswith("/cancel")  # noqa: E731
    return sorted((r for r in edge_routes() if r not in NOT_IN_SPEC), key=lambda r: (ending(r), r[1], r[0]))


@pytest.fixture(scope="module")
def spec():
    """OpenAI's operations by (METHOD, unnamed path without /v1)."""
    schema = schemathesis.openapi.from_path(SPEC)
    operations = {}
    for result in schema.get_all_operations():
        op = result.ok()
        operations[(op.method.upper(), _shape(op.path))] = op
    return operations


def test_every_route_is_fuzzed(spec):
    """A route the description lacks must be listed in NOT_IN_SPEC (with why), so none goes unfuzzed."""
    missing = [r for r in fuzzed_routes() if (r[0], _shape(r[1].removeprefix("/v1"))) not in spec]
    assert not missing, f"edge routes not in spec/openai-openapi.yml and not in NOT_IN_SPEC: {missing}"
    assert len(fuzzed_routes()) >= 30


@dataclass
class Target:
    """The stack under fuzzing: where, with which key, and real ids to use some of the time."""

    base_url: str
    key: str
    ids: dict[str, list[str]] = field(default_factory=dict)  # path parameter → real ids
    session: requests.Session = field(default_factory=requests.Session)


@pytest.fixture(scope="module")
def target(stack, files, images, jobs, responses, vector_stores) -> Iterator[Target]:
    """Every domain up, and a project of its own, so what the fuzzer creates stays out of others' lists."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:  # make_key runs an event loop of its own
        key = pool.submit(make_key, stack.nats_url, project=f"proj_fuzz{secrets.token_hex(4)}").result()
    t = Target(base_url=stack.base_url, key=key)
    t.session.headers["Authorization"] = f"Bearer {key}"
    line = {"custom_id": "1", "method": "POST", "url": "/v1/embeddings",
            "body": {"model": "all-minilm-l6-v2", "input": "hi"}}
    answer = t.session.post(f"{t.base_url}/files", data={"purpose": "batch"}, timeout=HANG_S,
                            files={"file": ("in.jsonl", json.dumps(line).encode() + b"\n")})
    assert answer.status_code == 200, answer.text
    t.ids["file_id"] = [answer.json()["id"]]
    answer = t.session.post(f"{t.base_url}/batches", timeout=HANG_S, json={
        "input_file_id": t.ids["file_id"][0], "endpoint": "/v1/embeddings", "completion_window": "24h"})
    assert answer.status_code == 200, answer.text
    t.ids["batch_id"] = [answer.json()["id"]]
    answer = t.session.post(f"{t.base_url}/uploads", timeout=HANG_S, json={
        "filename": "a.txt", "purpose": "assistants", "bytes": 3, "mime_type": "text/plain"})
    assert answer.status_code == 200, answer.text
    t.ids["upload_id"] = [answer.json()["id"]]
    answer = t.session.post(f"{t.base_url}/vector_stores", timeout=HANG_S, json={"name": "fuzz"})
    assert answer.status_code == 200, answer.text
    t.ids["vector_store_id"] = [answer.json()["id"]]
    yield t
    t.session.close()


def wav(seconds: float = 0.5, rate: int = 16000) -> bytes:
    """A short 440 Hz tone: audio the transcription models really decode."""
    frames = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate)))
                      for i in range(int(seconds * rate)))
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)
    return out.getvalue()


# Real files, swapped in for the generated bytes some of the time: (form field, bytes) per path.
FILES = {
    "/audio/transcriptions": ("file", wav()),
    "/audio/translations": ("file", wav()),
    "/images/edits": ("image", png(4, 4, (10, 20, 30))),
    "/images/variations": ("image", png(4, 4, (30, 20, 10))),
    "/files": ("file", b'{"custom_id": "a", "method": "POST", "url": "/v1/embeddings", "body": {}}\n'),
}


def bound(path: str, body: dict) -> None:
    """Keep what one case asks the local models for small, so a case takes seconds: at most
    MAX_TOKENS generated per choice (also where the case leaves it out or null, which for chat means
    "until the context is full"), MAX_CHOICES choices and MAX_ITEMS prompts or inputs. Values of the
    wrong type or range below are left alone: they are what negative cases test."""
    if path in ("/chat/completions", "/completions"):
        for k in [k for k in ("max_tokens", "max_completion_tokens") if k in body] or ["max_tokens"]:
            if body.get(k) is None or _int(body[k]) and body[k] > MAX_TOKENS:
                body[k] = MAX_TOKENS
    if path == "/responses" and (body.get("max_output_tokens") is None
                                 or _int(body["max_output_tokens"]) and body["max_output_tokens"] > MAX_TOKENS):
        body["max_output_tokens"] = MAX_TOKENS
    for k in ("n", "best_of"):
        if _int(body.get(k)) and body[k] > MAX_CHOICES:
            body[k] = MAX_CHOICES
    for k in ("prompt", "input"):
        if isinstance(body.get(k), list) and len(body[k]) > MAX_ITEMS:
            body[k] = body[k][:MAX_ITEMS]


def _int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@st.composite
def tweaks(draw, path: str, ids: dict[str, list[str]]):
    """Which of the stack's real models, ids and files to swap in (None, False: keep the generated one)."""
    models = MODELS.get(path, [])
    return {"model": draw(st.sampled_from([None, *models])) if models else None,
            "ids": {name: draw(st.sampled_from([None, *values])) for name, values in ids.items()},
            "file": path in FILES and draw(st.booleans())}


ID_FIELDS = {"file_id": ("input_file_id", "training_file", "validation_file")}


def apply(case, path: str, tweak: dict) -> None:
    body = case.body if isinstance(case.body, dict) else None
    params = case.path_parameters or {}
    if tweak["model"] is not None:
        if "model" in params:
            params["model"] = tweak["model"]
        elif body is not None:
            body["model"] = tweak["model"]
    for name, value in tweak["ids"].items():
        if value is None:
            continue
        if name in params:
            params[name] = value
        for key in ID_FIELDS.get(name, ()):
            if body is not None and key in body:
                body[key] = value
    if tweak["file"] and body is not None:
        name, data = FILES[path]
        body[name] = Binary(data)
    if body is not None:
        bound(path, body)


def problems(response: schemathesis.Response, elapsed: float) -> list[str]:
    """What is wrong with one answer: a 5xx, a slow answer, an error that is not OpenAI's object
    (also inside an event stream)."""
    found = []
    if response.status_code >= 500:
        found.append(f"{response.status_code}")
    if elapsed > HANG_S:
        found.append(f"answered after {elapsed:.0f} s")
    if response.status_code >= 400:
        try:
            error = response.json()["error"]
            assert set(error) == {"message", "type", "param", "code"} and isinstance(error["message"], str)
        except Exception:
            found.append(f"error body not OpenAI's shape: {response.text[:300]!r}")
    elif response.headers.get("content-type", [""])[0].startswith("text/event-stream"):
        for line in response.text.splitlines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            try:
                event = json.loads(line[6:])
            except ValueError:
                found.append(f"event not JSON: {line[:300]!r}")
                continue
            if isinstance(event, dict) and "error" in event:
                if event["error"].get("type") == "server_error" or set(event["error"]) != {
                        "message", "type", "param", "code"}:
                    found.append(f"error event: {line[:300]}")
    return found


def describe(case) -> str:
    body = case.body if not isinstance(case.body, schemathesis.core.NotSet) else None
    text = repr(body)
    return (f"{case.method} {case.formatted_path} query={case.query} headers={case.headers} "
            f"media_type={case.media_type} body={text[:600]}{'…' if len(text) > 600 else ''}")


@dataclass
class Run:
    sent: int = 0
    seconds: float = 0.0
    slowest: float = 0.0
    statuses: dict[int, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


def fuzz(op, target: Target, *, examples: int, mode: GenerationMode, run: Run) -> None:
    path = op.path

    @seed(SEED)
    @settings(max_examples=examples, database=None, deadline=None,  # no shrinking: every failure is kept
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=op.as_strategy(generation_mode=mode), tweak=tweaks(path, target.ids))
    def one(case, tweak):
        apply(case, path, tweak)
        # Negative cases break the key too; every case here is about the operation, so all use a real one.
        case.headers = {**{k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"},
                        "Authorization": f"Bearer {target.key}"}
        started = time.monotonic()
        try:
            response = case.call(base_url=target.base_url, session=target.session, timeout=HANG_S)
        except requests.RequestException as err:
            run.failures.append(f"{type(err).__name__}: {err} ← {describe(case)}")
            return
        finally:
            run.sent += 1
        elapsed = time.monotonic() - started
        run.seconds += elapsed
        run.slowest = max(run.slowest, elapsed)
        run.statuses[response.status_code] = run.statuses.get(response.status_code, 0) + 1
        for problem in problems(response, elapsed):
            run.failures.append(f"{problem} ← {describe(case)} → {response.text[:300]!r}")

    one()


def fuzz_route(spec, target: Target, method: str, route: str, examples: int) -> None:
    op = spec[(method, _shape(route.removeprefix("/v1")))]
    run = Run()
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        fuzz(op, target, examples=examples, mode=mode, run=run)
    print(f"{method} {route}: {run.sent} cases, {run.seconds:.1f} s (slowest {run.slowest:.1f} s), "
          f"statuses {dict(sorted(run.statuses.items()))}")
    assert not run.failures, "\n".join(run.failures)


@pytest.mark.parametrize(("method", "route"), fuzzed_routes())
def test_fuzz(spec, target, method, route):
    fuzz_route(spec, target, method, route, EXAMPLES)


@pytest.mark.slow
@pytest.mark.timeout(3600)
@pytest.mark.parametrize(("method", "route"), fuzzed_routes())
def test_fuzz_long(spec, target, method, route):
    fuzz_route(spec, target, method, route, SLOW_EXAMPLES)
