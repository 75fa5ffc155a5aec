"""Keeps `make up`'s children running.

A child that exits while the stack runs is logged (one line: which, how it ended, when it starts
again) and started again the way it was first started (`respawn()`, see `processes.spawn`: the same
command, port and data directory, so every client reconnects), after a delay that doubles from
`first_delay` up to `max_delay` and goes back to `first_delay` once the child has run `stable_after`
seconds. A child that exits `loop_count` times within `loop_window` seconds is reported as
crash-looping and from then on retried only every `max_delay` seconds, never in a tight loop.

`Supervisor` also stands in for the list of started processes: `append`/`extend` add a child, and
iterating (or `reversed`) gives the processes now running, in start order, for stopping them.
"""

import logging
import os
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

log = logging.getLogger("vivian.stack")


@dataclass(frozen=True, slots=True)
class Policy:
    first_delay: float = 0.5  # seconds before the first restart
    max_delay: float = 30.0  # the slow cap, and the pace of retries for a crash-looping child
    stable_after: float = 60.0  # a child up this long has its delay reset
    loop_count: int = 5  # this many exits ...
    loop_window: float = 120.0  # ... within this many seconds is a crash loop


@dataclass(slots=True)
class _Child:
    name: str
    proc: subprocess.Popen  # the latest start: running, or exited and waiting for `restart_at`
    started: float
    delay: float
    exits: deque = field(default_factory=deque)  # monotonic times of recent exits
    restart_at: float | None = None  # when it is due to start again; None while it runs
    looping: bool = False
    restarts: int = 0


def name_of(proc: subprocess.Popen) -> str:
    """`chat` for `python -m services.chat`, the program's name (`nats-server`, `weed`) otherwise."""
    args = list(proc.args)
    if "-m" in args[:-1]:
        return args[args.index("-m") + 1].removeprefix("services.")
    return os.path.basename(args[0])


def how_it_ended(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"signal {-returncode} ({signal.Signals(-returncode).name})"
        except ValueError:
            return f"signal {-returncode}"
    return f"exit code {returncode}"


def log_to(path: str) -> None:
    """The stack's own lines go to stderr and to `path` (`$VIVIAN_HOME/logs/stack.log`)."""
    formatter = logging.Formatter("%(asctime)s stack: %(message)s", "%Y-%m-%dT%H:%M:%S")
    formatter.converter = time.gmtime
    for handler in (logging.StreamHandler(sys.stderr), logging.FileHandler(path)):
        handler.setFormatter(formatter)
        log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


class Supervisor:
    def __init__(self, policy: Policy = Policy(), *, clock=time.monotonic) -> None:
        self.policy = policy
        self._clock = clock
        self._children: list[_Child] = []

    # -- the list of started processes --------------------------------------------------------

    def append(self, proc: subprocess.Popen, name: str | None = None) -> None:
        self._children.append(_Child(name or name_of(proc), proc, self._clock(), self.policy.first_delay))

    def extend(self, procs) -> None:
        for proc in procs:
            self.append(proc)

    def __iter__(self) -> Iterator[subprocess.Popen]:
        return iter([c.proc for c in self._children if c.restart_at is None])

    def __reversed__(self) -> Iterator[subprocess.Popen]:
        return reversed(list(self))

    def restarts(self, name: str) -> int:
        return next(c.restarts for c in self._children if c.name == name)

    # -- watching --------------------------------------------------------------------------------

    def watch(self, *, interval: float = 0.5) -> None:
        """Check on every child each `interval` seconds, forever (Ctrl-C or SIGTERM ends it)."""
        while True:
            self.check()
            time.sleep(interval)

    def check(self) -> None:
        now = self._clock()
        for child in self._children:
            if child.restart_at is not None:
                if now >= child.restart_at:
                    self._restart(child, now)
            elif child.proc.poll() is not None:
                self._exited(child, now)
            elif child.exits and now - child.started >= self.policy.stable_after:
                self._settled(child, now)

    def _settled(self, child: _Child, now: float) -> None:
        """Up long enough since its last start: its past crashes no longer count."""
        if child.looping:
            log.info("%s has run %.0f s since its last restart: no longer crash-looping", child.name,
                     now - child.started)
        child.delay, child.looping = self.policy.first_delay, False
        child.exits.clear()

    def _exited(self, child: _Child, now: float) -> None:
        policy, proc = self.policy, child.proc
        if child.exits and now - child.started >= policy.stable_after:
            self._settled(child, now)
        child.exits.append(now)
        while child.exits and now - child.exits[0] > policy.loop_window:
            child.exits.popleft()
        if not child.looping and len(child.exits) >= policy.loop_count:
            child.looping = True
            log.error("%s is CRASH-LOOPING: %d exits in %.0f s (last: %s); retrying it only every %.0f s; see %s",
                      child.name, len(child.exits), now - child.exits[0], how_it_ended(proc.returncode),
                      policy.max_delay, proc.log_path or "its output")
        delay = policy.max_delay if child.looping else child.delay
        child.delay = min(child.delay * 2, policy.max_delay)
        log.warning("%s (pid %d) exited with %s after %.1f s; restarting in %.3g s", child.name, proc.pid,
                    how_it_ended(proc.returncode), now - child.started, delay)
        child.restart_at = now + delay
        try:  # whatever it started itself goes with it (each child leads its own process group)
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def _restart(self, child: _Child, now: float) -> None:
        try:
            proc = child.proc.respawn()
        except (OSError, subprocess.SubprocessError) as err:
            log.error("%s could not be started again: %s; retrying in %.0f s", child.name, err, self.policy.max_delay)
            child.restart_at = now + self.policy.max_delay
            return
        child.proc, child.started, child.restart_at = proc, now, None
        child.restarts += 1
        log.info("%s restarted (pid %d, restart %d)", child.name, child.proc.pid, child.restarts)
