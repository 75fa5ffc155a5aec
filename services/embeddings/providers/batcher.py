"""Micro-batching: items submitted while the model is busy, or within a short window of each other,
run through the model together, taken from the waiting requests in turn."""

import asyncio
from collections import deque
from collections.abc import Callable, Hashable
from concurrent.futures import Executor
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Batcher(Generic[T, R]):
    """`submit(item, owner)` resolves to `run([...items])[i]`, `run` happening in `pool`, one batch
    at a time. While a batch runs, what comes in waits for it and then goes in the next batch (up
    to `size` items) at once; an item that finds the model idle waits `window` seconds for company,
    or less if `size` items come first. Queueing small batches behind a running one instead would
    run the model on many small batches under load, far below its batched speed.

    Each owner (a request) has its own queue, and a batch takes one item from each waiting owner
    in turn until it is full. A request of thousands of items is thus cut into batches that
    interleave with everyone else's: an item submitted while such a request runs waits for the
    batch in the model, then goes in the next one. An item whose future is done (its caller was
    cancelled) is skipped, and `drop(owner)` forgets all of an owner's waiting items at once."""

    def __init__(self, run: Callable[[list[T]], list[R]], *, pool: Executor, size: int, window: float) -> None:
        self._run, self._pool, self._size, self._window = run, pool, size, window
        # Waiting items by owner, owners in the order they are next served.
        self._queues: dict[Hashable, deque[tuple[T, asyncio.Future[R]]]] = {}
        self._waiting = 0  # items in the queues
        self._timer: asyncio.Handle | None = None
        self._running: asyncio.Task | None = None  # the batch in the model (held: not garbage-collected)

    @property
    def waiting(self) -> int:
        return self._waiting

    def submit(self, item: T, owner: Hashable = None) -> asyncio.Future[R]:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queues.setdefault(owner, deque()).append((item, future))
        self._waiting += 1
        if self._running is None:
            if self._waiting >= self._size:
                self._flush()
            elif self._timer is None:
                self._timer = loop.call_later(self._window, self._flush)
        return future

    def drop(self, owner: Hashable) -> int:
        """Forget `owner`'s waiting items (their futures are cancelled); how many there were."""
        queue = self._queues.pop(owner, None)
        if not queue:
            return 0
        self._waiting -= len(queue)
        for _, future in queue:
            future.cancel()
        return len(queue)

    def _take(self) -> list[tuple[T, asyncio.Future[R]]]:
        """The next batch: one item from each owner in turn, an owner that still waits going to
        the back of the line, until the batch is full or nothing waits."""
        batch = []
        while len(batch) < self._size and self._queues:
            for owner in list(self._queues):
                queue = self._queues.pop(owner)
                while queue and len(batch) < self._size:
                    item, future = queue.popleft()
                    self._waiting -= 1
                    if not future.done():  # a cancelled caller's item is not run
                        batch.append((item, future))
                        break
                if queue:
                    self._queues[owner] = queue  # back of the line
                if len(batch) == self._size:
                    break
        return batch

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._running is not None:
            return  # the running batch's end flushes again
        batch = self._take()
        if batch:
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
