"""Micro-batching: items submitted while the model is busy, or within a short window of each other,
run through the model together."""

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Batcher(Generic[T, R]):
    """`submit(item)` resolves to `run([...items])[i]`, `run` happening in `pool`, one batch at a
    time. While a batch runs, what comes in waits for it and then goes as the next batch (up to
    `size` items) at once; an item that finds the model idle waits `window` seconds for company,
    or less if `size` items come first. Queueing small batches behind a running one instead would
    run the model on many small batches under load, far below its batched speed."""

    def __init__(self, run: Callable[[list[T]], list[R]], *, pool: Executor, size: int, window: float) -> None:
        self._run, self._pool, self._size, self._window = run, pool, size, window
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._timer: asyncio.Handle | None = None
        self._running: asyncio.Task | None = None  # the batch in the model (held: not garbage-collected)

    def submit(self, item: T) -> asyncio.Future[R]:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._pending.append((item, future))
        if self._running is None:
            if len(self._pending) >= self._size:
                self._flush()
            elif self._timer is None:
                self._timer = loop.call_later(self._window, self._flush)
        return future

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._running is not None or not self._pending:
            return  # the running batch's end flushes again
        batch, self._pending = self._pending[: self._size], self._pending[self._size :]
        self._running = asyncio.ensure_future(self._execute(batch))

    async def _execute(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            results = await asyncio.get_running_loop().run_in_executor(self._pool, self._run, [i for i, _ in batch])
        except Exception as err:  # the model failed: every caller in the batch hears it
            for _, future in batch:
                if not future.done():
                    future.set_exception(err)
            return
        else:
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)
        finally:
            self._running = None
            self._flush()  # what came in meanwhile has waited long enough
