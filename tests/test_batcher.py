"""The embeddings service's micro-batcher: under load the model runs on big batches, not on a
queue of small ones."""

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from services.embeddings.providers.batcher import Batcher


class Model:
    """Doubles its inputs; records each batch; the first batch blocks until `release` is set."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.release = threading.Event()
        self.started = threading.Event()

    def run(self, batch: list[int]) -> list[int]:
        self.batches.append(batch)
        self.started.set()
        assert self.release.wait(30)
        if -1 in batch:
            raise ValueError("bad input")
        return [2 * x for x in batch]


async def test_what_comes_in_while_the_model_runs_goes_as_one_batch():
    model = Model()
    with ThreadPoolExecutor(1) as pool:
        batcher = Batcher(model.run, pool=pool, size=64, window=0.002)
        first = batcher.submit(0)
        await asyncio.get_running_loop().run_in_executor(None, model.started.wait, 30)
        later = []
        for x in range(1, 41):  # forty requests, each a few milliseconds after the last
            later.append(batcher.submit(x))
            await asyncio.sleep(0.003)
        model.release.set()
        assert await first == 0 and await asyncio.gather(*later) == [2 * x for x in range(1, 41)]
    assert model.batches == [[0], list(range(1, 41))]


async def test_a_full_batch_goes_without_waiting_and_the_rest_follows():
    model = Model()
    model.release.set()
    with ThreadPoolExecutor(1) as pool:
        batcher = Batcher(model.run, pool=pool, size=4, window=60)  # a window no test would wait out
        results = await asyncio.wait_for(asyncio.gather(*(batcher.submit(x) for x in range(6))), 30)
    assert results == [0, 2, 4, 6, 8, 10]
    assert model.batches == [[0, 1, 2, 3], [4, 5]]


async def test_a_failed_batch_fails_its_callers_only():
    model = Model()
    model.release.set()
    with ThreadPoolExecutor(1) as pool:
        batcher = Batcher(model.run, pool=pool, size=2, window=0.001)
        bad, also_bad = batcher.submit(-1), batcher.submit(3)
        with pytest.raises(ValueError):
            await bad
        with pytest.raises(ValueError):
            await also_bad
        assert await batcher.submit(5) == 10


async def test_a_big_request_does_not_hold_up_a_small_one():
    """The 2049th item of a queue goes in the batch after the running one, not after the other
    2048: each batch takes one item from every waiting owner in turn."""
    model = Model()
    with ThreadPoolExecutor(1) as pool:
        batcher = Batcher(model.run, pool=pool, size=4, window=60)
        big = [batcher.submit(x, "big") for x in range(100)]  # the fourth fills a batch: it runs
        await asyncio.get_running_loop().run_in_executor(None, model.started.wait, 30)
        small = batcher.submit(1000, "small")
        model.release.set()
        assert await asyncio.wait_for(small, 30) == 2000
        assert not big[-1].done()
        assert await asyncio.wait_for(asyncio.gather(*big), 30) == [2 * x for x in range(100)]
    assert model.batches[0] == [0, 1, 2, 3] and 1000 in model.batches[1]
    assert sorted(x for b in model.batches for x in b) == sorted([*range(100), 1000])  # each item ran once


async def test_two_big_requests_take_turns():
    model = Model()
    model.release.set()
    with ThreadPoolExecutor(1) as pool:
        batcher = Batcher(model.run, pool=pool, size=4, window=0.001)
        a = [batcher.submit(x, "a") for x in range(8)]
        b = [batcher.submit(100 + x, "b") for x in range(8)]
        await asyncio.wait_for(asyncio.gather(*a, *b), 30)
    # The first batch filled with a's items before b came; from then on, two of each per batch.
    assert model.batches[0] == [0, 1, 2, 3]
    assert all(sum(x >= 100 for x in batch) == 2 for batch in model.batches[1:3])


async def test_dropped_and_cancelled_items_do_not_run():
    model = Model()
    with ThreadPoolExecutor(1) as pool:
        batcher = Batcher(model.run, pool=pool, size=4, window=60)
        gone = [batcher.submit(x, "gone") for x in range(12)]
        await asyncio.get_running_loop().run_in_executor(None, model.started.wait, 30)
        assert batcher.drop("gone") == 8 and all(f.cancelled() for f in gone[4:])
        cancelled = [batcher.submit(x, "cancelled") for x in (50, 51)]
        cancelled[0].cancel()  # its caller went away: the item stays queued but is skipped
        kept = batcher.submit(7, "kept")
        model.release.set()
        assert await asyncio.wait_for(asyncio.gather(*gone[:4]), 30) == [0, 2, 4, 6]  # it was in the model
        assert await asyncio.wait_for(kept, 30) == 14 and await cancelled[1] == 102
    assert model.batches == [[0, 1, 2, 3], [51, 7]]
    assert batcher.waiting == 0
