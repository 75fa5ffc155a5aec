"""Bearer keys: stored only as hashes in a JetStream KV bucket, watched by the edge, revocable."""

import asyncio
import subprocess
import sys
import time

import openai
import pytest

from services.edge.keys import key_hash
from shared import bus, subjects


def keys_cli(stack, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "services.edge.keys", *args], capture_output=True, text=True,
                          timeout=60, env={"VIVIAN_NATS_URL": stack.nats_url, "PATH": "",
                                           "VIVIAN_NATS_CREDENTIALS": stack.auth.path("keys")})


def sdk(stack, key):
    return openai.OpenAI(base_url=stack.base_url, api_key=key, max_retries=0, timeout=60)


@pytest.mark.parametrize("key", ["sk-vivian-wrong", "nonsense"])
def test_wrong_key_is_401_invalid_api_key(stack, key):
    with pytest.raises(openai.AuthenticationError) as caught:
        sdk(stack, key).models.list()
    assert caught.value.status_code == 401
    assert caught.value.body["code"] == "invalid_api_key"
    assert caught.value.body["type"] == "invalid_request_error"
    assert "sk-vivian-wrong" not in caught.value.body["message"]  # never echo a key whole


def test_missing_key_is_401(stack):
    import urllib.error
    import urllib.request

    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"{stack.base_url}/models", timeout=30)
    assert caught.value.code == 401
    body = caught.value.read()
    assert b'"code":"invalid_api_key"' in body and b'"param":null' in body


def test_cli_create_list_revoke(stack):
    created = keys_cli(stack, "create", "--name", "ci")
    assert created.returncode == 0, created.stderr
    key, key_id, project = created.stdout.split()
    assert key.startswith("sk-vivian-") and key_id.startswith("key_") and project.startswith("proj_")

    deadline = time.monotonic() + 30
    while True:  # a new key shows up in the edge's copy as fast as the watch delivers it
        try:
            assert sdk(stack, key).models.list().data
            break
        except openai.AuthenticationError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)

    listed = keys_cli(stack, "list").stdout
    assert key_id in listed and key not in listed

    assert keys_cli(stack, "revoke", key_id).returncode == 0
    deadline = time.monotonic() + 30
    while True:
        try:
            sdk(stack, key).models.list()
        except openai.AuthenticationError:
            break
        assert time.monotonic() < deadline, "revoked key still accepted"
        time.sleep(0.05)
    assert keys_cli(stack, "revoke", key_id).returncode == 1


def test_keys_share_the_default_project(stack):
    first = keys_cli(stack, "create").stdout.split()
    second = keys_cli(stack, "create").stdout.split()
    assert first[2] == second[2]
    other = keys_cli(stack, "create", "--project", "proj_other").stdout.split()
    assert other[2] == "proj_other"


def test_bucket_holds_hashes_not_keys(stack):
    async def read_bucket():
        nc = await bus.connect(stack.nats_url, name="test", credentials=stack.auth.path("keys"))
        try:
            kv = await nc.jetstream().key_value(subjects.KEYS_BUCKET)
            names = await kv.keys()
            return names, [(await kv.get(n)).value for n in names]
        finally:
            await nc.close()

    names, values = asyncio.run(read_bucket())
    assert key_hash(stack.key) in names
    assert all(stack.key.encode() not in v for v in values)
    assert all(stack.key not in n for n in names)
