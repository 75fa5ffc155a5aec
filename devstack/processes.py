"""Child processes that never outlive us: started in their own process group, stopped by PID."""

import ctypes
import functools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    # If we are killed outright (SIGKILL), the kernel still stops the child.
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass
    os.setpgrp()  # Ctrl-C reaches us alone; we stop the children in order


def spawn(args: Sequence[str], *, env: dict[str, str] | None = None, log_path: str | None = None,
          stdout=None, append: bool = False) -> subprocess.Popen:
    """Start `args` with `env` added to ours, its output in `log_path` (a fresh log, or appended to
    with `append`). The process gets `respawn()`, which starts it again the same way (the stack's
    supervisor restarts a crashed child with it) and appends to the same log, so the crash stays in it."""
    out = open(log_path, "ab" if append else "wb") if log_path else stdout
    if log_path and append:
        out.write(time.strftime("--- started again at %Y-%m-%dT%H:%M:%SZ ---\n", time.gmtime()).encode())
        out.flush()
    try:
        proc = subprocess.Popen(list(args), env={**os.environ, **(env or {})}, stdout=out,
                                stderr=subprocess.STDOUT if out is not None else None,
                                preexec_fn=_die_with_parent, stdin=subprocess.DEVNULL)
    finally:
        if log_path:
            out.close()
    proc.log_path = log_path
    proc.respawn = functools.partial(spawn, args=args, env=env, log_path=log_path, stdout=stdout, append=True)
    return proc


def spawn_module(module: str, *, env: dict[str, str] | None = None, log_path: str | None = None) -> subprocess.Popen:
    return spawn([sys.executable, "-m", module], env=env, log_path=log_path)


def stop(proc: subprocess.Popen, *, timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after `timeout`; also sweeps the child's process group."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def wait_for_line(path: str, needle: str, *, proc: subprocess.Popen, timeout: float) -> str:
    """Wait until the log file at `path` has a line containing `needle`; return that line."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                for line in f:
                    if needle in line:
                        return line
        except FileNotFoundError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited with {proc.returncode} before logging {needle!r}; see {path}")
        time.sleep(0.05)
    raise TimeoutError(f"{proc.args} did not log {needle!r} within {timeout}s; see {path}")
