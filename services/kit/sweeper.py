"""Periodic clean-up in the background of a service: expired records and objects, abandoned stages.

Every replica sweeps; a sweep claims each record before it touches it, so two never work on the
same one. A failed sweep is logged and tried again at the next interval.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any


class Sweeper:
    """Runs `sweep()` every `interval` seconds from `start()` until `stop()`; what a sweep returns,
    when true (something was swept), is logged."""

    def __init__(self, name: str, sweep: Callable[[], Awaitable[Any]], interval: float) -> None:
        self._log = logging.getLogger(name)
        self._name = name
        self._sweep = sweep
        self._interval = interval
        self._task: asyncio.Task | None = None

    def start(self) -> "Sweeper":
        self._task = asyncio.create_task(self._run())
        return self

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                swept = await self._sweep()
                if swept:
                    self._log.info("sweep: %s", swept)
            except Exception:
                self._log.exception("%s sweep failed; trying again in %.0fs", self._name, self._interval)
            await asyncio.sleep(self._interval)
