"""Large files through the edge with the openai SDK, in bounded memory: the bytes match (sha256),
and neither the edge, the files service nor nats-server grows by more than ~100 MiB of RSS (the
bytes go edge ↔ object store on presigned URLs; the bus carries only calls about them)."""

import hashlib
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.files_fixtures import sdk_client

MiB = 1024 * 1024
BUDGET = 100 * MiB


def rss(pid: int, field: str = "VmRSS") -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise LookupError(field)


@contextmanager
def peak_rss(pids: dict[str, int]) -> Iterator[dict[str, int]]:
    """Each process's growth over its RSS at the start, at its highest while the block ran: the
    kernel's own high-water mark (reset first through clear_refs) where it can be reset, and
    samples every 20 ms in any case."""
    idle = {name: rss(pid) for name, pid in pids.items()}
    exact = set()
    for name, pid in pids.items():
        try:
            with open(f"/proc/{pid}/clear_refs", "w") as f:
                f.write("5")  # resets VmHWM to the current RSS
            exact.add(name)
        except OSError:
            pass
    peak, done = dict(idle), threading.Event()

    def sample() -> None:
        while not done.wait(0.02):
            for name, pid in pids.items():
                peak[name] = max(peak[name], rss(pid))

    sampler = threading.Thread(target=sample)
    sampler.start()
    growth: dict[str, int] = {}
    try:
        yield growth
    finally:
        done.set()
        sampler.join()
        for name, pid in pids.items():
            if name in exact:
                peak[name] = max(peak[name], rss(pid, "VmHWM"))
            growth[name] = peak[name] - idle[name]


def make_file(path, size: int) -> str:
    """`size` bytes, every MiB different (a reordered or repeated chunk changes the hash); its sha256."""
    block, digest = os.urandom(MiB), hashlib.sha256()
    with open(path, "wb") as f:
        for i in range(size // MiB):
            chunk = block[:-8] + i.to_bytes(8, "big")
            f.write(chunk)
            digest.update(chunk)
    return digest.hexdigest()


def round_trip(stack, files, tmp_path, size: int, *, chunked: bool = False) -> dict[str, int]:
    client = sdk_client(stack, stack.key)
    path = tmp_path / "large.bin"
    expected = make_file(path, size)
    pids = {"edge": stack.procs["edge"].pid, "files": files.procs[0].pid, "nats-server": stack.procs["nats"].pid}
    try:
        started = time.monotonic()
        with peak_rss(pids) as growth:
            if chunked:
                made = client.uploads.upload_file_chunked(file=path, mime_type="application/octet-stream",
                                                          purpose="user_data").file
            else:
                with open(path, "rb") as f:
                    made = client.files.create(file=f, purpose="user_data")
            uploaded = time.monotonic()
            digest = hashlib.sha256()
            with client.files.with_streaming_response.content(made.id) as response:
                for chunk in response.iter_bytes(MiB):
                    digest.update(chunk)
        print(f"{size // MiB} MiB: up {uploaded - started:.1f}s, down {time.monotonic() - uploaded:.1f}s, "
              f"growth {({name: grown // MiB for name, grown in growth.items()})} MiB")
        assert made.bytes == size
        assert digest.hexdigest() == expected
        client.files.delete(made.id)
    finally:
        path.unlink(missing_ok=True)
    over = {name: grown // MiB for name, grown in growth.items() if grown > BUDGET}
    assert not over, f"RSS grew past {BUDGET // MiB} MiB (MiB): {over}"
    return growth


def test_512_mib_round_trip_in_bounded_memory(stack, files, tmp_path):
    round_trip(stack, files, tmp_path, 512 * MiB)


@pytest.mark.slow
def test_1_gib_round_trips_in_bounded_memory(stack, files, tmp_path):
    round_trip(stack, files, tmp_path, 1024 * MiB)
    round_trip(stack, files, tmp_path, 1024 * MiB, chunked=True)  # /v1/uploads, 64 MiB parts
