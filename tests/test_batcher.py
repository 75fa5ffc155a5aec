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
