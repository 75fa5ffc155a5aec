"""Official client libraries against the stack, on the default config's model (Qwen2.5-Coder-0.5B
as `gpt-4`, all-MiniLM-L6-v2 as `text-embedding-3-small`): LangChain's standard chat-model and
embeddings tests (langchain-tests with langchain-openai), and tool loops with the OpenAI Agents SDK
and with LangChain's `bind_tools`, and the Agents SDK on the Responses API with a conversations
session.

The clients live in their own venv (.venv-clients, `make install-clients`, every version pinned in
clients/requirements.txt): langchain-tests brings pytest plugins (pytest-socket, syrupy, vcr,
benchmark, codspeed) and its own httpx, which must not load in this suite. So the suites in
clients/ run there, as a subprocess with its own pytest config, and this module reads its JUnit
report. `make test PYTEST_ARGS="-m slow -k clients"`; about 3 minutes on 2 cores.
VIVIAN_CHAT_MODEL (default `gpt-4`) runs them on another model of the same config, e.g.
`smollm2-135m-instruct`, which fails 5 standard tests and both tool loops: the check is not blind.
"""

import os
import subprocess
import xml.etree.ElementTree as ET

import pytest

from tests.responses_fixtures import responses_env
from tests.stack import Stack, make_key

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir))
CLIENTS_PYTHON = os.path.join(ROOT, ".venv-clients", "bin", "python")
DEFAULT_CONFIG = os.path.join(ROOT, "config", "models.toml")

CHAT = "test_langchain_standard.TestVivianChatOpenAI"
EMBEDDINGS = "test_langchain_standard.TestVivianOpenAIEmbeddings"
LOOPS = "test_tool_loops"
RESPONSES = "test_responses_agents"

# The standard tests that do not apply to the local models, each with its reason. Every other test
# collected must pass.
NOT_APPLICABLE = {
    f"{CHAT}::test_image_inputs": "the local models are text-only (no image input)",
    f"{CHAT}::test_image_tool_message": "the local models are text-only (no image in a tool result)",
    f"{CHAT}::test_pdf_inputs": "no PDF input",
    f"{CHAT}::test_pdf_tool_message": "no PDF input",
    f"{CHAT}::test_audio_inputs": "no audio input in chat messages",
    f"{CHAT}::test_anthropic_inputs": "Anthropic-format content blocks: for Anthropic's own models",
    f"{CHAT}::test_stream_time": "a VCR-cassette benchmark for recorded cloud calls, not a live test",
}


@pytest.fixture(scope="module")
def default_stack(tmp_path_factory, mongo_url):
    """nats, chat, embeddings, responses and the edge, all on the default model config."""
    s = Stack(home=str(tmp_path_factory.mktemp("clients")))
    env = {"VIVIAN_MODELS": DEFAULT_CONFIG}
    try:
        s.start_nats()
        s.key = make_key(s.nats_url, name="clients")
        s.start_service("chat", env)
        s.start_service("embeddings", env)
        s.start_service("responses", {**env, **responses_env(mongo_url)})
        s.start_edge()
        yield s
    finally:
        s.stop()


def run_clients(stack: Stack, tmp_path, *selection: str) -> dict[str, tuple[str, str]]:
    """Run clients/ tests in .venv-clients against `stack`: {test id: (outcome, message)}."""
    assert os.path.exists(CLIENTS_PYTHON), "no .venv-clients: run `make install-clients` (make test does)"
    report = tmp_path / "report.xml"
    env = {**os.environ, "VIVIAN_BASE_URL": stack.base_url, "VIVIAN_API_KEY": stack.key}
    env.pop("PYTHONPATH", None)
    proc = subprocess.run(
        [CLIENTS_PYTHON, "-m", "pytest", "-c", "pytest.ini", "-p", "no:cacheprovider", "-ra", "-q",
         f"--junitxml={report}", *selection],
        cwd=os.path.join(ROOT, "clients"), env=env, capture_output=True, text=True, timeout=3000)
    print(proc.stdout[-20000:], proc.stderr[-5000:])
    results = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        test_id = f"{case.get('classname')}::{case.get('name')}"
        outcome, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome, message = child.tag, child.get("message", "")
        results[test_id] = (outcome, message)
    return results


def base(test_id: str) -> str:
    return test_id.split("[")[0]


def test_langchain_standard_chat_and_embeddings(default_stack, tmp_path):
    results = run_clients(default_stack, tmp_path, "test_langchain_standard.py")
    not_passed = {t: r for t, r in results.items() if r[0] != "passed"}
    unexpected = {t: r for t, r in not_passed.items() if base(t) not in NOT_APPLICABLE or r[0] != "skipped"}
    assert not unexpected, unexpected
    assert {base(t) for t in not_passed} == set(NOT_APPLICABLE)  # each one listed is still skipped
    passed = [t for t, r in results.items() if r[0] == "passed"]
    assert sum(t.startswith(CHAT) for t in passed) >= 40
    assert sum(t.startswith(EMBEDDINGS) for t in passed) == 5


def test_agents_sdk_and_langchain_tool_loops(default_stack, tmp_path):
    results = run_clients(default_stack, tmp_path, "test_tool_loops.py")
    assert results == {f"{LOOPS}::test_agents_sdk_tool_loop": ("passed", ""),
                       f"{LOOPS}::test_langchain_tool_loop": ("passed", "")}


def test_agents_sdk_on_the_responses_api_with_a_conversations_session(default_stack, tmp_path):
    results = run_clients(default_stack, tmp_path, "test_responses_agents.py")
    assert results == {f"{RESPONSES}::test_agents_sdk_responses_tool_loop_in_a_conversations_session": ("passed", "")}
