"""The bus is locked: NATS knows one user per role, and each role may use only its own subjects
(devstack/roles.py). Every stack the tests start runs this way; here, the attacks.
"""

import asyncio
import json
import os
import stat
import subprocess
import sys
import time

import msgspec
import nats
import openai
import pytest
from nats.js.errors import KeyNotFoundError

from devstack import roles
from services.edge.keys import key_hash
from shared import bus, buscredentials, subjects
from shared.protocol.bus import Envelope
from shared.protocol.keys import KeyRecord

SERVICE_ROLES = roles.SERVICES


class Connection:
    """A bus connection as one role, keeping what the server refused (`-ERR` permission errors)."""

    def __init__(self) -> None:
        self.nc: nats.NATS | None = None
        self.refusals: list[str] = []

    async def open(self, url: str, credentials: str) -> "Connection":
        async def on_error(err: Exception) -> None:
            self.refusals.append(str(err).lower())

        self.nc = await nats.connect(url, name="test-bus-auth", error_cb=on_error, allow_reconnect=False,
                                     connect_timeout=10, **buscredentials.connect_options(credentials))
        return self

    async def refused(self, what: str, subject: str) -> bool:
        """True once the server has said that `what` ("publish", "subscription") to `subject` is not
        allowed (it answers within a round trip; the wait is generous for a loaded machine)."""
        needle = f"permissions violation for {what} to \"{subject.lower()}\""
        deadline = time.monotonic() + 30
        while not any(needle in r for r in self.refusals):
            if time.monotonic() > deadline:
                return False
            await self.nc.flush(timeout=10)
            await asyncio.sleep(0.05)
        return True

    async def close(self) -> None:
        await self.nc.close()


async def connect_as(stack, role: str) -> Connection:
    return await Connection().open(stack.nats_url, stack.auth.path(role))


async def refused_connect(url: str, **options) -> str:
    try:
        nc = await nats.connect(url, name="test-bus-auth", allow_reconnect=False, max_reconnect_attempts=0,
                                connect_timeout=10, **options)
    except nats.errors.Error as err:
        return str(err)
    await nc.close()
    return "connected"


async def test_an_anonymous_connection_is_refused(stack):
    assert "Authorization Violation" in await refused_connect(stack.nats_url)


async def test_a_wrong_password_is_refused(stack):
    assert "Authorization Violation" in await refused_connect(stack.nats_url, user="edge", password="guess")


def test_credentials_are_private_and_the_server_keeps_only_hashes(stack):
    directory = stack.auth.directory
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    with open(stack.auth.config) as f:
        config = f.read()
    for role in roles.ROLES:
        path = stack.auth.path(role)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path
        creds = buscredentials.read(path)
        assert creds.user == role
        assert creds.password not in config
    assert stat.S_IMODE(os.stat(stack.auth.config).st_mode) == 0o600
    users = json.loads(config)["authorization"]["users"]
    assert {u["user"] for u in users} == set(roles.ROLES)
    assert all(u["password"].startswith("$2a$") for u in users)


@pytest.mark.parametrize("role", ["edge", *SERVICE_ROLES])
async def test_only_the_key_tool_writes_the_key_bucket(stack, role):
    """A forged key record, published by any other role, never lands: the edge refuses that key."""
    forged = "sk-vivian-forged-" + role
    record = KeyRecord(id="key_forged", project="proj_victim", name="forged", created_at=int(time.time()),
                       redacted="sk-vivian-f…ged")
    conn = await connect_as(stack, role)
    try:
        subject = f"$KV.{subjects.KEYS_BUCKET}.{key_hash(forged)}"
        await conn.nc.publish(subject, msgspec.json.encode(record))
        assert await conn.refused("publish", subject)
        purge = f"$JS.API.STREAM.PURGE.KV_{subjects.KEYS_BUCKET}"
        await conn.nc.publish(purge, b"{}")  # nor wipe every key
        assert await conn.refused("publish", purge)
    finally:
        await conn.close()

    keys = await connect_as(stack, "keys")
    try:
        kv = await keys.nc.jetstream().key_value(subjects.KEYS_BUCKET)
        with pytest.raises(KeyNotFoundError):
            await kv.get(key_hash(forged))
        assert key_hash(stack.key) in await kv.keys()
    finally:
        await keys.close()
    with pytest.raises(openai.AuthenticationError):
        await openai.AsyncOpenAI(base_url=stack.base_url, api_key=forged, max_retries=0).models.list()


async def test_a_service_cannot_call_another_domain(stack, project_client):
    """The attack of issue 12: a request naming another project, sent straight to the files
    service. The edge's role may (it is how /v1/files works); the chat service's may not."""
    client, project = project_client()
    client.files.create(file=("secret.txt", b"another project's"), purpose="user_data")
    envelope = Envelope(request_id="req_bus_auth", project=project, body=msgspec.Raw(b"{}"))

    async def list_files(role: str) -> tuple[Connection, bytes | None]:
        conn = await connect_as(stack, role)
        caller = bus.Caller(conn.nc)
        await caller.start()
        try:
            return conn, await caller.call(subjects.FILES_LIST, envelope, idle_timeout=10)
        except TimeoutError:
            return conn, None
        finally:
            await caller.stop()
            await conn.close()

    _, answer = await list_files("edge")
    assert b"secret.txt" in answer
    chat, answer = await list_files("chat")
    assert answer is None
    assert any(f'publish to "{subjects.FILES_LIST}"' in r for r in chat.refusals), chat.refusals


@pytest.mark.parametrize(("role", "subject"), [
    ("chat", subjects.FILES_LIST), ("chat", subjects.EMBEDDINGS), ("embeddings", subjects.CHAT_COMPLETIONS),
    ("audio", subjects.FILES_DELETE), ("images", subjects.BATCHES_CREATE), ("files", subjects.AUDIO_SPEECH),
    # jobs calls chat, embeddings and files for batch lines, and nothing else
    ("jobs", subjects.FILES_DELETE), ("jobs", subjects.FILES_LIST), ("jobs", subjects.IMAGES_GENERATIONS),
    # responses calls chat for a response's model turns, and nothing else
    ("responses", subjects.FILES_LIST), ("responses", subjects.EMBEDDINGS), ("responses", subjects.BATCHES_CREATE),
    ("chat", subjects.RESPONSES), ("edge", f"{subjects.RESPONSES_TASKS}.run"),
    # nor may anyone else queue the jobs service's durable work
    ("edge", f"{subjects.JOBS_TASKS}.batches.run"), ("chat", f"{subjects.JOBS_TASKS}.batches.run"),
])
async def test_a_role_cannot_publish_another_domains_requests(stack, role, subject):
    conn = await connect_as(stack, role)
    try:
        await conn.nc.publish(subject, b"{}", reply=buscredentials.inbox_prefix(role) + ".x")
        assert await conn.refused("publish", subject)
    finally:
        await conn.close()


@pytest.mark.parametrize("role", SERVICE_ROLES)
async def test_a_service_cannot_listen_to_another_domain_or_to_answers(stack, role):
    """Not another domain's requests (to steal or read them), not the edge's inbox (other
    services' answers), not the key bucket's updates."""
    other = "files" if role != "files" else "chat"
    denied = [roles.SERVES[other][0], "vivian.>", ">", roles.inbox("edge"), f"$KV.{subjects.KEYS_BUCKET}.>"]
    conn = await connect_as(stack, role)
    try:
        for subject in denied:
            await conn.nc.subscribe(subject)
        for subject in denied:
            assert await conn.refused("subscription", subject), subject
    finally:
        await conn.close()


async def test_the_edge_cannot_listen_to_requests(stack):
    conn = await connect_as(stack, "edge")
    try:
        for subject in (subjects.CHAT_COMPLETIONS, roles.inbox("jobs")):
            await conn.nc.subscribe(subject)
            assert await conn.refused("subscription", subject)
    finally:
        await conn.close()


def keys_cli(stack, *args, credentials: str | None) -> subprocess.CompletedProcess:
    env = {"VIVIAN_NATS_URL": stack.nats_url, "PATH": ""}
    if credentials:
        env["VIVIAN_NATS_CREDENTIALS"] = credentials
    return subprocess.run([sys.executable, "-m", "services.edge.keys", *args], capture_output=True, text=True,
                          timeout=120, env=env)


def test_the_key_tool_works_with_its_role_only(stack):
    made = keys_cli(stack, "create", "--name", "bus-auth", credentials=stack.auth.path("keys"))
    assert made.returncode == 0, made.stderr
    key = made.stdout.split()[0]
    assert openai.OpenAI(base_url=stack.base_url, api_key=key, max_retries=0).models.list().data

    by_option = keys_cli(stack, "--credentials", stack.auth.path("keys"), "list", credentials=None)
    assert by_option.returncode == 0 and "bus-auth" in by_option.stdout

    as_edge = keys_cli(stack, "create", "--name", "by-the-edge", credentials=stack.auth.path("edge"))
    assert as_edge.returncode != 0
    anonymous = keys_cli(stack, "list", credentials=None)
    assert anonymous.returncode == 2
    assert "credentials" in anonymous.stderr
    assert "by-the-edge" not in keys_cli(stack, "list", credentials=stack.auth.path("keys")).stdout


def matches(pattern: str, subject: str) -> bool:
    """NATS subject matching: `*` is one token, `>` the rest."""
    p, s = pattern.split("."), subject.split(".")
    for i, token in enumerate(p):
        if token == ">":
            return len(s) > i
        if i >= len(s) or token not in ("*", s[i]):
            return False
    return len(p) == len(s)


def test_every_request_subject_is_served_by_one_role():
    """A subject added to shared/subjects.py without a role to serve it would be refused to its
    service on a locked bus: devstack/roles.py must name it."""
    requests = {value for name, value in vars(subjects).items()
                if name.isupper() and isinstance(value, str) and value.startswith("vivian.")
                and value not in (subjects.CANCEL, subjects.JOBS_TASKS, subjects.RESPONSES_TASKS,
                                  subjects.VECTOR_STORES_TASKS)}
    assert len(requests) > 30
    for subject in requests:
        servers = [role for role, served in roles.SERVES.items() if any(matches(p, subject) for p in served)]
        assert len(servers) == 1, (subject, servers)


@pytest.mark.parametrize("caller", roles.CALLERS)
async def test_a_callers_large_body_is_read_and_deleted_by_any_service(stack, caller):
    """Request bodies too large for one message ride the `vivian_bodies` object store: the
    callers put them, the service that takes the request reads and deletes them."""
    conn = await connect_as(stack, caller)
    try:
        js = conn.nc.jetstream()
        try:
            store = await js.object_store(roles.BODIES_BUCKET)
        except Exception:
            store = await js.create_object_store(roles.BODIES_BUCKET, ttl=600)
        for role in SERVICE_ROLES:
            await store.put(f"body-{caller}-{role}", b"x" * 300_000)
    finally:
        await conn.close()
    for role in SERVICE_ROLES:
        service = await connect_as(stack, role)
        try:
            store = await service.nc.jetstream().object_store(roles.BODIES_BUCKET)
            assert (await store.get(f"body-{caller}-{role}")).data == b"x" * 300_000
            await store.delete(f"body-{caller}-{role}")
            assert not service.refusals, (role, service.refusals)
        finally:
            await service.close()
