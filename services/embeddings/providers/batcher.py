"""Micro-batching: items submitted within a short window run through the model together."""

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Batcher(Generic[T, R]):
    """`submit(item)` resolves to `run([...items])[i]`. The first item of a batch waits `window`
    seconds for company; a full batch (`size` items) goes at once. `run` happens in `pool`."""

    def __init__(self, run: Callable[[list[T]], list[R]], *, pool: Executor, size: int, window: float) -> None:
        self._run, self._pool, self._size, self._window = run, pool, size, window
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._timer: asyncio.Handle | None = None
        self._running: set[asyncio.Task] = set()  # held so a running batch is not garbage-collected

    def submit(self, item: T) -> asyncio.Future[R]:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._pending.append((item, future))
        if len(self._pending) >= self._size:
            self._flush()
        elif self._timer is None:
            self._timer = loop.call_later(self._window, self._flush)
        return future

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._pending = self._pending[: self._size], self._pending[self._size :]
        if self._pending:  # more than a batch came in at once
            self._timer = asyncio.get_running_loop().call_soon(self._flush)
        if batch:
            task = asyncio.ensure_future(self._execute(batch))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _execute(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            results = await asyncio.get_running_loop().run_in_executor(self._pool, self._run, [i for i, _ in batch])
        except Exception as err:  # the model failed: every caller in the batch hears it
            for _, future in batch:
                if not future.done():
                    future.set_exception(err)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)
