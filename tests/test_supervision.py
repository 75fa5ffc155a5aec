"""`make up` supervision: a crashed child is logged and started again with backoff, the others keep
serving meanwhile, and a child that keeps crashing is reported and retried only slowly.

The stack tests run the real `python -m devstack` and kill -9 its children. They print how
many seconds each killed service took to answer again (run with `-s` to see the figures)."""

import logging
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable

import openai
import pytest

from devstack import processes, supervisor
from tests import batch_helpers
from tests.stack import free_port, local_models_toml
from tests.test_make_up import alive, children_of, start, stop_with_ctrl_c

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# -- the supervisor alone, on real child processes ----------------------------------------------


def _checking(sup: supervisor.Supervisor, until: Callable[[], bool], *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not until():
        assert time.monotonic() < deadline, "timed out"
        sup.check()
        time.sleep(0.01)


def test_a_killed_child_is_logged_and_started_again(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="vivian.stack")
    sup = supervisor.Supervisor(supervisor.Policy(first_delay=0.2))
    first = processes.spawn(["sleep", "600"], log_path=str(tmp_path / "sleep.log"))
    sup.append(first)
    try:
        os.kill(first.pid, signal.SIGKILL)
        _checking(sup, lambda: sup.restarts("sleep") == 1, timeout=60)
        (again,) = list(sup)
        assert again.pid != first.pid and again.poll() is None
        assert again.args == first.args
        lines = [r.getMessage() for r in caplog.records]
        assert any(re.fullmatch(rf"sleep \(pid {first.pid}\) exited with signal 9 \(SIGKILL\) after \d+\.\d s; "
                                r"restarting in 0\.2 s", line) for line in lines), lines
        assert any(line.startswith(f"sleep restarted (pid {again.pid}") for line in lines), lines
    finally:
        for proc in sup:
            processes.stop(proc)


def test_the_delay_doubles_and_is_reset_once_the_child_has_run_a_while(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="vivian.stack")
    now = [0.0]  # the supervisor's clock, moved by hand; the child is real
    sup = supervisor.Supervisor(supervisor.Policy(first_delay=1, max_delay=8, stable_after=60, loop_count=9),
                                clock=lambda: now[0])
    sup.append(processes.spawn(["sleep", "600"], log_path=str(tmp_path / "sleep.log")))

    def kill_and_restart(after: float) -> None:
        (proc,) = list(sup)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        now[0] += after
        sup.check()  # notices the exit
        now[0] += 10  # past any delay
        sup.check()  # starts it again

    try:
        for after in (1, 1, 1, 1, 1, 70, 1):  # the sixth ran 70 s before it was killed
            kill_and_restart(after)
        waits = [m[1] for r in caplog.records if (m := re.search(r"restarting in (\S+) s", r.getMessage()))]
        assert waits == ["1", "2", "4", "8", "8", "1", "2"]
        assert sup.restarts("sleep") == 7
    finally:
        for proc in sup:
            processes.stop(proc)


def test_a_crash_looping_child_is_reported_and_not_restarted_in_a_tight_loop(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="vivian.stack")
    policy = supervisor.Policy(first_delay=0.05, max_delay=2.0, loop_count=4, loop_window=60.0)
    sup = supervisor.Supervisor(policy)
    sup.append(processes.spawn(["sh", "-c", "echo broken; exit 3"], log_path=str(tmp_path / "broken.log")),
               name="broken")
    looping = lambda: any("CRASH-LOOPING" in r.getMessage() for r in caplog.records)  # noqa: E731
    _checking(sup, looping, timeout=60)
    reported = time.monotonic()
    restarts_then = sup.restarts("broken")
    assert restarts_then == policy.loop_count - 1  # 4 exits: the first start and 3 restarts
    (line,) = [r.getMessage() for r in caplog.records if "CRASH-LOOPING" in r.getMessage()]
    assert line.startswith("broken is CRASH-LOOPING: 4 exits in ") and "exit code 3" in line, line
    assert str(tmp_path / "broken.log") in line

    # From now on, one try per max_delay at most: 5 s of watching allows 3 more at the very most.
    while time.monotonic() - reported < 5:
        sup.check()
        time.sleep(0.01)
    assert sup.restarts("broken") - restarts_then <= 3
    waits = [float(m[1]) for r in caplog.records if (m := re.search(r"restarting in (\S+) s", r.getMessage()))]
    assert waits[:3] == [0.05, 0.1, 0.2] and set(waits[3:]) == {2.0}, waits
    with open(tmp_path / "broken.log") as f:  # each start's output kept, appended
        assert f.read().count("broken") == sup.restarts("broken") + 1
    for proc in sup:
        processes.stop(proc)


# -- the real stack ------------------------------------------------------------------------------


def _child(stack_pid: int, name: str) -> int:
    module = f"services.{name}"
    for pid in children_of(stack_pid):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                args = f.read().decode().rstrip("\0").split("\0")
        except OSError:
            continue
        # nx-27017 is a Python script: its cmdline starts with the interpreter
        if alive(pid) and (name in map(os.path.basename, args[:2]) or args[1:3] == ["-m", module]):
            return pid
    raise LookupError(f"no running {name} under the stack")


class Probes:
    """One real call per part of the stack, through the edge with the SDK."""

    def __init__(self, client: openai.OpenAI) -> None:
        self.base = self.client = client
        self.kept = client.files.create(file=("kept.txt", b"still here"), purpose="user_data")

    def models(self):
        assert self.client.models.list().data

    def chat(self):
        assert self.client.chat.completions.create(model="gpt-4", messages=[{"role": "user", "content": "Hi"}],
                                                   max_tokens=2, seed=1).choices

    def embeddings(self):
        assert len(self.client.embeddings.create(model="text-embedding-3-small", input="hi").data[0].embedding) == 384

    def speech(self):
        assert self.client.audio.speech.create(model="tts-1", voice="alloy", input="hi", response_format="wav").content

    def files(self):
        assert any(f.id == self.kept.id for f in self.client.files.list())

    def file_bytes(self):
        assert self.client.files.content(self.kept.id).content == b"still here"

    def images(self):  # the default config has no model that draws: the images service says so
        with pytest.raises(openai.NotFoundError, match="No model here can make images"):
            self.client.images.generate(model="dall-e-3", prompt="a cat")

    def batches(self):
        self.client.batches.list(limit=1)

    def responses(self):
        assert self.client.responses.create(model="gpt-4", input="Hi", max_output_tokens=2).output

    def vector_stores(self):
        self.client.vector_stores.list(limit=1)


# Which probes each child answers (directly or as a store behind them).
SERVES = {
    "chat": ("models", "chat", "responses"),
    "embeddings": ("embeddings",),
    "audio": ("speech",),
    "files": ("files", "file_bytes"),
    "images": ("images",),
    "jobs": ("batches",),
    "responses": ("responses",),
    "vector_stores": ("vector_stores",),
    "weed": ("file_bytes",),
    "nx-27017": ("files", "file_bytes", "batches", "responses", "vector_stores"),
}
ALL = ("models", "chat", "embeddings", "speech", "files", "file_bytes", "images", "batches", "responses",
       "vector_stores")


def _answers(probes: Probes, name: str, *, timeout: float = 120) -> str | None:
    probes.client = probes.base.with_options(timeout=timeout)
    try:
        getattr(probes, name)()
        return None
    except (openai.APIError, AssertionError) as err:
        return f"{type(err).__name__}: {err}"


def _answering_again(probes: Probes, names, *, timeout: float) -> float:
    """Retry each probe until it answers; a try gives up after 5 s, then 10, 20 … (a call sent while
    a part is down may wait out the edge's request timeout, which would hide when it came back)."""
    started = time.monotonic()
    pending, tries = list(names), 0
    while pending:
        if _answers(probes, pending[0], timeout=min(5 * 2 ** tries, 120)) is None:
            pending.pop(0)
            continue
        tries += 1
        assert time.monotonic() - started < timeout, f"{pending[0]} did not answer again within {timeout} s"
        time.sleep(0.2)
    return time.monotonic() - started


def _kill_and_measure(stack: subprocess.Popen, probes: Probes, name: str) -> float:
    """kill -9 one child; the parts that do not need it answer meanwhile; it answers again. Returns
    the seconds from the kill until every part it serves answered again."""
    pid = _child(stack.pid, name)
    os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()
    down = ALL if name in ("edge", "nats-server") else SERVES[name]
    for other in (p for p in ALL if p not in down):
        assert _answers(probes, other) is None, f"{other} stopped answering when {name} was killed"
    _answering_again(probes, down, timeout=180)
    took = time.monotonic() - killed
    assert _child(stack.pid, name) != pid
    assert len(children_of(stack.pid)) == 12
    return took


def _models_toml(home: str) -> str:
    """The default model config, as a file the test can break (the tokenizer path made absolute)."""
    path = os.path.join(home, "models.toml")
    with open(os.path.join(ROOT, "config", "models.toml")) as f:
        text = f.read().replace('"../models/', f'"{ROOT}/models/')
    with open(path, "w") as f:
        f.write(text)
    return path


@pytest.fixture
def up(tmp_path, monkeypatch):
    home = str(tmp_path / "home")
    os.makedirs(home)
    monkeypatch.setenv("VIVIAN_MODELS", _models_toml(home))
    proc, printed = start(home, free_port())
    try:
        client = openai.OpenAI(base_url=printed["VIVIAN_BASE_URL"], api_key=printed["VIVIAN_API_KEY"],
                               max_retries=0, timeout=120)
        yield proc, home, Probes(client)
        stop_with_ctrl_c(proc)
    finally:
        if proc.poll() is None:
            proc.kill()


def _stack_log(home: str) -> str:
    with open(os.path.join(home, "logs", "stack.log")) as f:
        return f.read()


def test_kill_chat_the_rest_serves_it_comes_back_and_a_crash_loop_is_reported(up):
    proc, home, probes = up
    took = _kill_and_measure(proc, probes, "chat")
    print(f"\nchat answered again {took:.1f} s after kill -9")
    assert re.search(r"stack: chat \(pid \d+\) exited with signal 9 \(SIGKILL\) after [\d.]+ s; restarting in 0\.5 s",
                     _stack_log(home))

    # A bad setting: every start of chat exits at once.
    models = os.environ["VIVIAN_MODELS"]
    with open(models) as f:
        good = f.read()
    with open(models, "w") as f:
        f.write("this is [not toml\n")
    os.kill(_child(proc.pid, "chat"), signal.SIGKILL)
    deadline = time.monotonic() + 300
    while "chat is CRASH-LOOPING" not in _stack_log(home):
        assert time.monotonic() < deadline, "the crash loop was not reported"
        time.sleep(0.5)
    reported = time.monotonic()
    for other in ("embeddings", "files", "batches"):
        assert _answers(probes, other) is None
    assert _answers(probes, "chat") is not None
    count = lambda: len(re.findall(r"stack: chat restarted", _stack_log(home)))  # noqa: E731
    then = count()
    time.sleep(20)  # at most one more try in 30 s
    assert count() - then <= 1
    assert re.search(r"chat is CRASH-LOOPING: 5 exits in \d+ s \(last: exit code 1\); retrying it only every 30 s",
                     _stack_log(home))

    with open(models, "w") as f:  # fixed: the next slow retry brings it back
        f.write(good)
    took = _answering_again(probes, ("chat",), timeout=180)
    print(f"chat answered again {took:.1f} s after its config was fixed (crash-looping: retried every 30 s)")
    assert time.monotonic() - reported < 240


KINDS = ("chat", "embeddings", "audio", "files", "images", "jobs", "responses", "vector_stores", "edge",
         "nats-server", "weed", "nx-27017")


def test_kill_each_kind_of_service_in_turn(up):
    proc, home, probes = up
    took = {name: _kill_and_measure(proc, probes, name) for name in KINDS}
    print("\nseconds from kill -9 until it answered again:",
          ", ".join(f"{name} {seconds:.1f}" for name, seconds in took.items()))
    log = _stack_log(home)
    for name in KINDS:
        assert f"stack: {name} restarted (pid" in log

    # Durable work still flows after all that (JetStream consumers on the restarted nats-server).
    line = batch_helpers.request_line("one", "/v1/embeddings", {"model": "text-embedding-3-small", "input": "hi"})
    batch = probes.base.batches.create(input_file_id=batch_helpers.upload(probes.base, [line]),
                                       endpoint="/v1/embeddings", completion_window="24h")
    batch = batch_helpers.wait(probes.base, batch.id)
    assert batch.status == "completed" and batch.request_counts.completed == 1, batch


# -- compose's health check of a service: its liveness file ---------------------------------------


def _healthcheck(env: dict[str, str]) -> subprocess.CompletedProcess:
    """What compose runs in a service's container (see docker-compose.yml)."""
    return subprocess.run([sys.executable, "-m", "services.kit.liveness"], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=60)


def test_a_wedged_service_fails_its_health_check(new_stack, tmp_path):
    alive_file = str(tmp_path / "alive")
    env = {"VIVIAN_LIVENESS_FILE": alive_file, "VIVIAN_LIVENESS_MAX_AGE": "8"}
    assert _healthcheck(env).returncode == 1  # not started: no file yet
    new_stack.start_nats()
    new_stack.start_chat(local_models_toml(), env=env)
    assert _healthcheck(env).returncode == 0
    time.sleep(10)  # longer than the max age: it keeps the file fresh
    assert _healthcheck(env).returncode == 0

    chat = new_stack.procs["chat"]
    os.kill(chat.pid, signal.SIGSTOP)  # wedged: alive, but its event loop does nothing
    try:
        deadline = time.monotonic() + 60
        while (check := _healthcheck(env)).returncode == 0:
            assert time.monotonic() < deadline, "a frozen service still looks healthy"
            time.sleep(1)
        assert check.returncode == 1 and "the service is wedged" in check.stderr
    finally:
        os.kill(chat.pid, signal.SIGCONT)
    deadline = time.monotonic() + 60
    while _healthcheck(env).returncode != 0:  # healthy again once it runs
        assert time.monotonic() < deadline
        time.sleep(1)
