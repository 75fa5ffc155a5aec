"""API keys: create, list and revoke them in the JetStream key-value bucket the edges watch.

    python -m services.edge.keys create [--project proj_…] [--name NAME]
    python -m services.edge.keys list
    python -m services.edge.keys revoke key_…

The bus is `$VIVIAN_NATS_URL`. On a locked bus the tool connects as the `keys` role, the only one
that may write the key bucket: `--credentials FILE` or `$VIVIAN_NATS_CREDENTIALS` (under `make up`:
`$VIVIAN_HOME/credentials/nats-keys.json`). A key is printed once, at creation; only its sha256 is
stored.
"""

import argparse
import asyncio
import hashlib
import secrets
import sys
import time

import msgspec
from nats.js.client import JetStreamContext
from nats.js.errors import KeyNotFoundError, NoKeysError
from nats.js.kv import KeyValue

from shared import bus, subjects
from shared.protocol.keys import KeyRecord, Project
from shared.settings import from_env

PREFIX = "sk-vivian-"
DEFAULT_PROJECT = "default"
CONNECT_TIMEOUT = 15.0


class KeySettings(msgspec.Struct, kw_only=True):
    nats_url: str = "nats://127.0.0.1:4222"
    nats_credentials: str = ""  # path of this role's NATS credentials file (mode 600); empty: no auth


def key_hash(key: str) -> str:
    # Keys carry 256 random bits, so a fast hash is enough: nothing to brute-force.
    return hashlib.sha256(key.encode()).hexdigest()


async def buckets(js: JetStreamContext) -> tuple[KeyValue, KeyValue]:
    keys = await js.create_key_value(bucket=subjects.KEYS_BUCKET, history=1)
    projects = await js.create_key_value(bucket=subjects.PROJECTS_BUCKET, history=1)
    return keys, projects


async def default_project(projects: KeyValue) -> str:
    """The project new keys join unless told otherwise, made on first use."""
    try:
        return msgspec.json.decode((await projects.get(DEFAULT_PROJECT)).value, type=Project).id
    except KeyNotFoundError:
        pass
    project = Project(id="proj_" + secrets.token_hex(12), name="Default project", created_at=int(time.time()))
    try:
        await projects.create(DEFAULT_PROJECT, msgspec.json.encode(project))
    except Exception:  # another process made it first: use theirs
        return msgspec.json.decode((await projects.get(DEFAULT_PROJECT)).value, type=Project).id
    return project.id


async def create_key(js: JetStreamContext, *, project: str | None = None, name: str = "") -> tuple[str, KeyRecord]:
    keys, projects = await buckets(js)
    key = PREFIX + secrets.token_urlsafe(32)
    record = KeyRecord(id="key_" + secrets.token_hex(8), project=project or await default_project(projects),
                       name=name, created_at=int(time.time()), redacted=f"{key[:13]}…{key[-4:]}")
    await keys.put(key_hash(key), msgspec.json.encode(record))
    return key, record


async def key_exists(js: JetStreamContext, key: str) -> bool:
    keys, _ = await buckets(js)
    try:
        entry = await keys.get(key_hash(key))
    except KeyNotFoundError:
        return False
    return entry.value is not None


async def list_keys(js: JetStreamContext) -> list[tuple[str, KeyRecord]]:
    keys, _ = await buckets(js)
    try:
        names = await keys.keys()
    except NoKeysError:
        return []
    found = []
    for name in names:
        try:
            found.append((name, msgspec.json.decode((await keys.get(name)).value, type=KeyRecord)))
        except KeyNotFoundError:
            continue  # revoked meanwhile
    return found


async def revoke_key(js: JetStreamContext, key_id: str) -> bool:
    keys, _ = await buckets(js)
    for name, record in await list_keys(js):
        if record.id == key_id:
            await keys.purge(name)
            return True
    return False


async def _main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.edge.keys", description="Manage Vivian API keys.")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="create a key and print it (shown only once)")
    create.add_argument("--project", help="project id (proj_…); the default project when left out")
    create.add_argument("--name", default="", help="a label for the key")
    commands.add_parser("list", help="list keys (never the keys themselves)")
    revoke = commands.add_parser("revoke", help="revoke a key by its id (key_…)")
    revoke.add_argument("key_id")
    parser.add_argument("--credentials", help="the `keys` role's NATS credentials file "
                        "(default: $VIVIAN_NATS_CREDENTIALS)")
    args = parser.parse_args(argv)

    settings = from_env(KeySettings)
    try:  # nats-py retries a refused connection for ever: a tool gives up and says why
        nc = await asyncio.wait_for(bus.connect(settings.nats_url, name="vivian-keys",
                                                credentials=args.credentials or settings.nats_credentials),
                                    CONNECT_TIMEOUT)
    except TimeoutError:
        print(f"could not join the bus at {settings.nats_url} within {CONNECT_TIMEOUT:.0f} s: is NATS up, and are "
              "these the key tool's credentials (--credentials, $VIVIAN_NATS_CREDENTIALS)?", file=sys.stderr)
        return 2
    try:
        js = nc.jetstream()
        if args.command == "create":
            key, record = await create_key(js, project=args.project, name=args.name)
            print(f"{key}\t{record.id}\t{record.project}")
        elif args.command == "list":
            for _, record in await list_keys(js):
                print(f"{record.id}\t{record.project}\t{record.redacted}\t{record.name}")
        elif not await revoke_key(js, args.key_id):
            print(f"no key {args.key_id}", file=sys.stderr)
            return 1
        return 0
    finally:
        await nc.close()


if __name__ == "__main__":
    sys.exit(asyncio.run(_main(sys.argv[1:])))
