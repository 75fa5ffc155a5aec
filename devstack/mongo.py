"""`nx-27017` from PyPI: a MongoDB wire-protocol server on SQLite, one file per database under its
data directory. The local stand-in for MongoDB (no `mongod` installs from PyPI)."""

import os
import shutil
import socket
import subprocess
import sys
import time

from devstack import processes
from devstack.seaweed import free_ports


def binary() -> str:
    beside_python = os.path.join(os.path.dirname(sys.executable), "nx-27017")
    found = beside_python if os.path.exists(beside_python) else shutil.which("nx-27017")
    if not found:
        raise SystemExit("nx-27017 not found: install the nx-27017 wheel (make up does)")
    return found


def start(data_dir: str, *, database: str = "vivian", timeout: float = 30.0) -> tuple[subprocess.Popen, str]:
    """Start nx-27017 storing under `data_dir`; return it and a MongoDB URL naming `database`."""
    os.makedirs(data_dir, exist_ok=True)
    (port,) = free_ports(1)
    proc = processes.spawn([binary(), "--host", "127.0.0.1", "-p", str(port), "--data-dir", os.path.join(data_dir, "db"),
                            "--log-file", os.path.join(data_dir, "nx-27017.log"),
                            "--pid-file", os.path.join(data_dir, "nx-27017.pid")],
                           log_path=os.path.join(data_dir, "nx-27017.out"))
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"nx-27017 exited with {proc.returncode}; see {data_dir}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, f"mongodb://127.0.0.1:{port}/{database}"
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nx-27017 did not listen on {port} within {timeout}s") from None
            time.sleep(0.05)
