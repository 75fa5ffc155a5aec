"""`python -m devstack` (what `make up` runs): starts everything, prints URL and key, and
Ctrl-C leaves no process behind."""

import asyncio
import os
import signal
import stat
import subprocess
import sys
import time

import nats
import openai
import pytest

from devstack import roles
from tests.stack import free_port
from tests.test_chat_completions_stored import wait_stored


def children_of(pid: int) -> set[int]:
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.add(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    return found


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def start(home: str, port: int) -> tuple[subprocess.Popen, dict[str, str]]:
    proc = subprocess.Popen([sys.executable, "-m", "devstack"], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "VIVIAN_HOME": home, "VIVIAN_PORT": str(port)})
    printed = {}
    for line in proc.stdout:
        if line.startswith("#"):
            break
        name, _, value = line.strip().partition("=")
        printed[name] = value
    return proc, printed


def stop_with_ctrl_c(proc: subprocess.Popen) -> None:
    children = children_of(proc.pid)
    # nats-server, chat, embeddings, audio, edge, weed, nx-27017, files, images, jobs, responses, vector_stores
    assert len(children) == 12
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 0
    deadline = time.monotonic() + 30
    while any(alive(pid) for pid in children):
        assert time.monotonic() < deadline, "a process outlived make up"
        time.sleep(0.1)


def assert_bus_locked(home: str, nats_url: str) -> None:
    """NATS refuses anonymous connections; every role's credentials are in $VIVIAN_HOME, mode 600."""
    async def anonymous() -> str:
        try:
            nc = await nats.connect(nats_url, allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=10)
        except nats.errors.Error as err:
            return str(err)
        await nc.close()
        return "connected"

    assert "Authorization Violation" in asyncio.run(anonymous())
    directory = os.path.join(home, "credentials")
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    for role in roles.ROLES:
        assert stat.S_IMODE(os.stat(os.path.join(directory, f"nats-{role}.json")).st_mode) == 0o600


def test_make_up_prints_url_and_key_and_stops_clean(tmp_path):
    home, port = str(tmp_path / "home"), free_port()
    proc, printed = start(home, port)
    try:
        assert printed["VIVIAN_BASE_URL"] == f"http://127.0.0.1:{port}/v1"
        key = printed["VIVIAN_API_KEY"]
        assert key.startswith("sk-vivian-")
        client = openai.OpenAI(base_url=printed["VIVIAN_BASE_URL"], api_key=key, max_retries=0, timeout=120)
        answer = client.chat.completions.create(model="gpt-4", messages=[{"role": "user", "content": "Hi"}],
                                                max_tokens=3, seed=1, store=True)
        assert answer.choices[0].message.content
        assert wait_stored(client, answer.id).id == answer.id  # the chat service has the database
        kept = client.files.create(file=("kept.txt", b"still here"), purpose="user_data")
        response = client.responses.create(model="gpt-4", input="Hi", max_output_tokens=3)
        assert response.output_text
        store = client.vector_stores.create(name="kept")
        ingested = client.vector_stores.files.upload_and_poll(vector_store_id=store.id, poll_interval_ms=200,
                                                              file=("facts.txt", b"Kilauea is a volcano on Hawaii."))
        assert ingested.status == "completed", ingested.last_error
        with pytest.raises(openai.NotFoundError) as caught:  # the default config has no model that draws
            client.images.generate(model="dall-e-3", prompt="a cat")
        assert "No model here can make images" in caught.value.body["message"]
        assert_bus_locked(home, printed["VIVIAN_NATS_URL"])
        stop_with_ctrl_c(proc)
        assert os.path.isdir(os.path.join(home, "nats", "jetstream"))

        # A second start keeps the data: the same key, still valid.
        proc, again = start(home, port)
        assert again["VIVIAN_API_KEY"] == key
        assert client.models.list().data
        assert client.files.content(kept.id).content == b"still here"  # records and bytes kept too
        assert client.chat.completions.retrieve(answer.id).id == answer.id
        assert client.responses.retrieve(response.id).output_text == response.output_text
        # the embedded vector index too
        assert client.vector_stores.search(store.id, query="volcano").data[0].content[0].text.startswith("Kilauea")
        stop_with_ctrl_c(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
