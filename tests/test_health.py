"""Probes: /healthz says the edge process is up; /readyz says it can serve (bus connected, and
every domain has a service answering)."""

import json
import time
import urllib.error
import urllib.request

from devstack import processes
from tests.stack import make_key


def probe(stack, path: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{stack.port}{path}", timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def wait_for(stack, path: str, status: int, timeout: float = 20) -> dict:
    deadline = time.monotonic() + timeout
    while (found := probe(stack, path))[0] != status:
        assert time.monotonic() < deadline, f"{path} stayed {found}"
        time.sleep(0.1)
    return found[1]


def test_probes_on_a_running_stack(stack, files, images, jobs, responses, vector_stores):
    assert probe(stack, "/healthz") == (200, {"status": "ok"})
    status, body = probe(stack, "/readyz")
    assert (status, body["status"], body["nats"]) == (200, "ok", True)
    assert body["services"] == {"chat": True, "embeddings": True, "files": True, "audio": True,
                                "images": True, "jobs": True, "responses": True, "vector_stores": True}


def test_readyz_follows_the_services_and_the_bus(new_stack):
    new_stack.start_nats()
    new_stack.key = make_key(new_stack.nats_url)
    new_stack.start_edge()
    # Up, but nobody serves chat yet: not ready, so Kubernetes sends it no traffic.
    assert probe(new_stack, "/healthz")[0] == 200
    status, body = probe(new_stack, "/readyz")
    assert (status, body["status"], body["nats"], body["services"]["chat"]) == (503, "unavailable", True, False)
    new_stack.start_chat('[[models]]\nid = "up"\nprovider = "openai"\nbase_url = "http://127.0.0.1:9/v1"\n')
    deadline = time.monotonic() + 20
    while not probe(new_stack, "/readyz")[1]["services"]["chat"]:
        assert time.monotonic() < deadline, "the chat service never answered the edge's ping"
        time.sleep(0.1)
    processes.stop(new_stack.procs.pop("chat"))
    assert wait_for(new_stack, "/readyz", 503)["services"]["chat"] is False
    processes.stop(new_stack.procs.pop("nats"))
    assert wait_for(new_stack, "/readyz", 503)["nats"] is False
    assert probe(new_stack, "/healthz")[0] == 200  # the process itself is fine: no restart
