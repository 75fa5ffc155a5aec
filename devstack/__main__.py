"""`python -m devstack` (what `make up` runs): nats-server, nx-27017, the chat (its stored
completions in nx-27017), embeddings and audio services, the edge, the files service with its
stores (SeaweedFS, nx-27017), the images service on the same object store, the jobs service, the
responses service (its responses and conversations in nx-27017), and the vector stores service (its
records in nx-27017, its vectors in an embedded Qdrant shard under $VIVIAN_HOME/vectors).

Data lives under `$VIVIAN_HOME` (default `./.vivian`). Prints the base URL and an API key, then
runs until Ctrl-C (or SIGTERM), restarting a process that crashes (`supervisor`), and stops every
process it started.
"""

import asyncio
import os
import signal
import sys
import time
import urllib.request

from devstack import credentials, files, nats, processes, supervisor
from services.edge import keys
from shared import bus


def _wait_http(url: str, proc, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{proc.args[-1]} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not answer within {timeout}s")


async def _ensure_key(nats_url: str, key_file: str, bus_credentials: str) -> str:
    """The key made on first start, kept in $VIVIAN_HOME/api_key (mode 600) for the next starts."""
    nc = await bus.connect(nats_url, name="vivian-stack", credentials=bus_credentials)
    try:
        js = nc.jetstream()
        if os.path.exists(key_file):
            with open(key_file) as f:
                key = f.read().strip()
            if await keys.key_exists(js, key):
                return key
        key, _ = await keys.create_key(js, name="make up")
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(key + "\n")
        return key
    finally:
        await nc.close()


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def main() -> int:
    home = os.path.abspath(os.environ.get("VIVIAN_HOME", ".vivian"))
    port = int(os.environ.get("VIVIAN_PORT", "8080"))
    logs = os.path.join(home, "logs")
    os.makedirs(logs, exist_ok=True)
    signal.signal(signal.SIGTERM, _interrupt)
    supervisor.log_to(os.path.join(logs, "stack.log"))
    started = supervisor.Supervisor()  # the processes started so far, restarted when they crash
    try:
        auth = credentials.ensure(os.path.join(home, "credentials"))  # each process gets its role's
        nats_proc, nats_url = nats.start(os.path.join(home, "nats"), config=auth.config)
        started.append(nats_proc)
        mongo_url = files.start_mongo(home, started=started)
        env = {"VIVIAN_NATS_URL": nats_url, "VIVIAN_PORT": str(port)}
        own = {"chat": {"VIVIAN_MONGO_URL": mongo_url}}  # stored chat completions
        services = {name: processes.spawn_module(f"services.{name}",
                                                 env={**env, **auth.env(name), **own.get(name, {})},
                                                 log_path=os.path.join(logs, f"{name}.log"))
                    for name in ("chat", "embeddings", "audio", "edge")}
        started.extend(services.values())
        for name in ("chat", "embeddings", "audio"):
            processes.wait_for_line(os.path.join(logs, f"{name}.log"), "serving", proc=services[name], timeout=120)
        _wait_http(f"http://127.0.0.1:{port}/healthz", services["edge"], timeout=60)
        stores = files.start(home, nats_url=nats_url, auth=auth, mongo_url=mongo_url, started=started)  # and its stores
        images = processes.spawn_module("services.images", env={**env, **stores, **auth.env("images")},
                                        log_path=os.path.join(logs, "images.log"))
        started.append(images)
        processes.wait_for_line(os.path.join(logs, "images.log"), "serving", proc=images, timeout=60)
        files.start_jobs(home, nats_url=nats_url, auth=auth, mongo_url=stores["VIVIAN_MONGO_URL"], started=started)
        responses = processes.spawn_module("services.responses", log_path=os.path.join(logs, "responses.log"),
                                           env={**env, **auth.env("responses"), "VIVIAN_MONGO_URL": mongo_url})
        started.append(responses)
        processes.wait_for_line(os.path.join(logs, "responses.log"), "serving", proc=responses, timeout=60)
        vectors = processes.spawn_module("services.vector_stores", log_path=os.path.join(logs, "vector_stores.log"),
                                         env={**env, **auth.env("vector_stores"), "VIVIAN_MONGO_URL": mongo_url,
                                              "VIVIAN_VECTORS_DIR": os.path.join(home, "vectors")})
        started.append(vectors)
        processes.wait_for_line(os.path.join(logs, "vector_stores.log"), "serving", proc=vectors, timeout=60)
        key = asyncio.run(_ensure_key(nats_url, os.path.join(home, "api_key"), auth.path("keys")))
        print(f"VIVIAN_BASE_URL=http://127.0.0.1:{port}/v1")
        print(f"VIVIAN_API_KEY={key}")
        print(f"VIVIAN_NATS_URL={nats_url}")
        print(f"# more keys: VIVIAN_NATS_CREDENTIALS={auth.path('keys')} python -m services.edge.keys create")
        print(f"# logs in {logs}; Ctrl-C stops everything", flush=True)
        started.watch()
    except KeyboardInterrupt:
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for proc in reversed(started):
            processes.stop(proc)


if __name__ == "__main__":
    sys.exit(main())
