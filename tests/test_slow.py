"""Longer model runs, left out of the default suite: `make test PYTEST_ARGS="-m slow"`."""

import asyncio

import pytest

from tests.stack import TEST_MODEL

pytestmark = pytest.mark.slow


async def test_more_concurrent_streams_than_slots_all_finish(aclient):
    """Eight streams against two llama.cpp slots: each waits its turn, none is lost or mixed up."""

    async def one(i: int) -> tuple[int, str, str]:
        stream = await aclient.chat.completions.create(
            model=TEST_MODEL, messages=[{"role": "user", "content": f"Say the number {i}."}], max_tokens=40,
            stream=True, stream_options={"include_usage": True})
        ids, text, finish = set(), [], None
        async for chunk in stream:
            ids.add(chunk.id)
            for choice in chunk.choices:
                text.append(choice.delta.content or "")
                finish = choice.finish_reason or finish
        assert len(ids) == 1
        return i, "".join(text), finish

    results = await asyncio.gather(*(one(i) for i in range(8)))
    assert sorted(i for i, *_ in results) == list(range(8))
    assert all(text and finish in ("stop", "length") for _, text, finish in results)


def test_long_answer_to_the_end(client):
    answer = client.chat.completions.create(
        model=TEST_MODEL, messages=[{"role": "user", "content": "Write a long story about a lighthouse."}],
        max_tokens=800)
    assert answer.usage.completion_tokens > 100
    assert answer.choices[0].finish_reason in ("stop", "length")
