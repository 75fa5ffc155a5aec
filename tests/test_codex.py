"""The Codex CLI against Vivian: `codex exec` with a custom provider (`wire_api = "responses"`)
pointed at the edge completes a turn on the local model, through the Responses API as Codex speaks
it (streamed, `store: false`, its own tools, reasoning and `include` fields, the answer taken from
`response.output_item.done`).

The CLI is npm's @openai/codex, pinned in clients/codex (`make install-clients`). Its prompt is
about 7,000 tokens (instructions, environment, four function tools), so the chat service runs
Qwen2.5-Coder-0.5B with one 16,384-token slot here. Codex's web search and sub-agent tools are
switched off in its config: Vivian runs neither, and a tool it cannot run is a 400 naming it.
"""

import json
import os
import subprocess

import pytest

from tests.responses_fixtures import responses_env
from tests.stack import Stack, make_key

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir))
CODEX = os.path.join(ROOT, "clients", "codex", "node_modules", ".bin", "codex")
MODEL = "qwen2.5-coder-0.5b-instruct"


def _models_toml() -> str:
    with open(os.path.join(ROOT, "config", "models.toml")) as f:
        config = f.read()
    one_slot = config.replace("context_length = 4096   # split across the parallel slots\nparallel = 2",
                              "context_length = 16384\nparallel = 1", 1)
    assert one_slot != config, "config/models.toml changed: update the Codex test's model config"
    return one_slot.replace("threads = 1             #", "threads = 2             #", 1)


@pytest.fixture(scope="module")
def codex_stack(tmp_path_factory, mongo_url):
    assert os.path.exists(CODEX), "no Codex CLI: run `make install-clients` (make test does)"
    s = Stack(home=str(tmp_path_factory.mktemp("codex")))
    try:
        s.start_nats()
        s.key = make_key(s.nats_url, name="codex")
        s.start_chat(_models_toml())
        s.start_service("responses", env=responses_env(mongo_url))
        s.start_edge()
        yield s
    finally:
        s.stop()


def _codex_home(path, base_url: str) -> str:
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "config.toml"), "w") as f:
        f.write(f"""
model = "{MODEL}"
model_provider = "vivian"
web_search = "disabled"

[agents]
enabled = false

[features]
goals = false

[model_providers.vivian]
name = "Vivian"
base_url = "{base_url}"
env_key = "VIVIAN_API_KEY"
wire_api = "responses"
stream_idle_timeout_ms = 900000
request_max_retries = 0
stream_max_retries = 0
""")
    return str(path)


def test_codex_exec_completes_a_turn(codex_stack, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    env = {**os.environ, "CODEX_HOME": _codex_home(tmp_path / "codex-home", codex_stack.base_url),
           "VIVIAN_API_KEY": codex_stack.key, "HOME": str(tmp_path)}
    proc = subprocess.run(
        [CODEX, "exec", "--json", "--skip-git-repo-check", "--sandbox", "read-only", "-C", str(work),
         "Answer in one short sentence, without running any command: what is 2 + 2?"],
        env=env, capture_output=True, text=True, timeout=1500, stdin=subprocess.DEVNULL)
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    print(proc.stdout[-5000:], proc.stderr[-5000:])
    assert proc.returncode == 0, proc.stderr[-3000:]
    kinds = [event.get("type") for event in events]
    assert "turn.completed" in kinds and "turn.failed" not in kinds and "error" not in kinds
    messages = [event["item"] for event in events
                if event.get("type") == "item.completed" and event["item"].get("type") == "agent_message"]
    assert messages and messages[-1]["text"].strip()
    # The turn went through the edge's Responses route (Codex never falls back to chat completions).
    assert "/v1/responses" in codex_stack.read_log("edge")
