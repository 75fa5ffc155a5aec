"""POST /v1/chat/completions on the local model, through edge → NATS → chat, with the openai SDK."""

import openai
import pytest

from tests.stack import TEST_MODEL

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]
WEATHER_TOOL = {"type": "function", "function": {"name": "weather", "description": "The weather in a city.",
                                                 "parameters": {"type": "object", "properties": {
                                                     "city": {"type": "string"}}, "required": ["city"]}}}


def test_plain_answer_in_openai_shape(client):
    answer = client.chat.completions.create(model=TEST_MODEL, messages=QUESTION, max_tokens=40, seed=1)
    assert answer.object == "chat.completion"
    assert answer.id.startswith("chatcmpl-")
    assert answer.model == TEST_MODEL
    [choice] = answer.choices
    assert choice.index == 0 and choice.message.role == "assistant"
    assert choice.message.content.strip()
    assert choice.finish_reason in ("stop", "length")
    usage = answer.usage
    assert usage.prompt_tokens > 5 and 0 < usage.completion_tokens <= 40
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_alias_gpt_4_runs_unchanged(client):
    answer = client.chat.completions.create(model="gpt-4", messages=QUESTION, max_tokens=5, seed=1)
    assert answer.model == "gpt-4"
    assert answer.choices[0].message.content


def test_max_tokens_reached_gives_length(client):
    for limit in ({"max_tokens": 3}, {"max_completion_tokens": 3}):
        answer = client.chat.completions.create(
            model=TEST_MODEL, messages=[{"role": "user", "content": "Write a long story about a dragon."}], seed=1,
            **limit)
        assert answer.choices[0].finish_reason == "length"
        assert answer.usage.completion_tokens == 3


def test_usage_counts_prompt_with_the_model_tokenizer(client):
    short = client.chat.completions.create(model=TEST_MODEL, messages=[{"role": "user", "content": "Hi"}], max_tokens=1)
    longer = client.chat.completions.create(
        model=TEST_MODEL, messages=[{"role": "user", "content": "Hi " + "hello " * 50}], max_tokens=1)
    assert longer.usage.prompt_tokens - short.usage.prompt_tokens >= 50


def test_every_role_and_parts_content(client):
    messages = [
        {"role": "system", "content": "You are terse."},
        {"role": "developer", "content": [{"type": "text", "text": "Answer in one word."}]},
        {"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}], "name": "ann"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\": \"Paris\"}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny, 21C"},
        {"role": "assistant", "content": "Sunny."},
        {"role": "user", "content": "And tomorrow?"},
    ]
    answer = client.chat.completions.create(model=TEST_MODEL, messages=messages, max_tokens=10,
                                            temperature=0.5, top_p=0.9, user="u-1", metadata={"k": "v"})
    assert answer.choices[0].message.content is not None


def test_n_choices_each_counted(client):
    story = [{"role": "user", "content": "Write a long story about a dragon."}]
    one = client.chat.completions.create(model=TEST_MODEL, messages=story, max_tokens=4)
    answer = client.chat.completions.create(model=TEST_MODEL, messages=story, n=3, max_tokens=4, seed=1)
    assert [c.index for c in answer.choices] == [0, 1, 2]
    assert all(c.finish_reason == "length" for c in answer.choices)
    assert answer.usage.completion_tokens == 12  # every choice's tokens
    assert answer.usage.prompt_tokens == one.usage.prompt_tokens  # the prompt once


def test_seed_makes_answers_repeatable(client):
    def ask(seed):
        return client.chat.completions.create(
            model=TEST_MODEL, messages=[{"role": "user", "content": "Tell me a story."}],
            temperature=1.0, seed=seed, max_tokens=20).choices[0].message.content

    assert ask(42) == ask(42)
    assert {ask(s) for s in (1, 2, 3)} != {ask(42)}


def test_stop_sequence_ends_answer(client):
    answer = client.chat.completions.create(
        model=TEST_MODEL, messages=[{"role": "user", "content": "Count from 1 to 10, separated by commas."}],
        stop=["5"], max_tokens=60, temperature=0)
    assert "5" not in answer.choices[0].message.content
    assert answer.choices[0].finish_reason == "stop"


def test_stream_chunks_in_openai_order(client):
    stream = client.chat.completions.create(
        model=TEST_MODEL, messages=QUESTION, max_tokens=20, stream=True, stream_options={"include_usage": True}, n=2, seed=1)
    chunks = list(stream)
    assert {c.id for c in chunks} == {chunks[0].id} and chunks[0].id.startswith("chatcmpl-")
    assert all(c.object == "chat.completion.chunk" and c.model == TEST_MODEL for c in chunks)
    *body, last = chunks
    assert last.choices == [] and last.usage.completion_tokens > 0
    for index in (0, 1):
        mine = [c.choices[0] for c in body if c.choices[0].index == index]
        assert mine[0].delta.role == "assistant"
        finishes = [c.finish_reason for c in mine if c.finish_reason]
        assert len(finishes) == 1 and mine[-1].finish_reason in ("stop", "length")
        assert "".join(c.delta.content or "" for c in mine).strip()


def test_stream_without_include_usage_has_no_usage_chunk(client):
    chunks = list(client.chat.completions.create(model=TEST_MODEL, messages=QUESTION, max_tokens=5, stream=True))
    assert all(c.usage is None and len(c.choices) == 1 for c in chunks)
    assert not any("usage" in c.model_fields_set for c in chunks)  # the key is left out, as OpenAI does


def test_include_usage_puts_usage_null_on_every_chunk_before_the_last(client):
    """As OpenAI sends them: `"usage": null` on each chunk but the last, which carries the counts."""
    for extra in ({}, {"n": 2}, {"tools": [WEATHER_TOOL], "tool_choice": "required"}):
        chunks = list(client.chat.completions.create(model=TEST_MODEL, messages=QUESTION, max_tokens=8, stream=True,
                                                     stream_options={"include_usage": True}, seed=1, **extra))
        *body, last = chunks
        assert body and all("usage" in c.model_fields_set and c.usage is None for c in body), extra
        assert last.choices == [] and last.usage.total_tokens > 0


async def test_async_client_plain_and_stream(aclient):
    answer = await aclient.chat.completions.create(model=TEST_MODEL, messages=QUESTION, max_tokens=8, seed=1)
    assert answer.choices[0].message.content
    pieces = []
    stream = await aclient.chat.completions.create(model=TEST_MODEL, messages=QUESTION, max_tokens=8, stream=True,
                                                   seed=1)
    async for chunk in stream:
        pieces.extend(c.delta.content or "" for c in chunk.choices)
    assert "".join(pieces).strip()


def test_unknown_model_is_404(client):
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="gpt-17", messages=QUESTION)
    assert caught.value.body["code"] == "model_not_found"


def test_image_part_on_text_model_is_a_clear_400(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=TEST_MODEL, messages=[{"role": "user", "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]}])
    assert TEST_MODEL in caught.value.body["message"]
    assert caught.value.body["param"] == "messages[0].content[1]"


# SmolLM2 at temperature 0 answers this with "1, 1, 1, …" until something stops it.
LOOPING = [{"role": "user", "content": "List the numbers 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1"}]
LOOP_BOUND = 192 + 40  # max(loop_min_tokens, 3 × loop_max_period) with the defaults, plus the answer's start


def test_repetition_loop_without_max_tokens_ends_as_length(client):
    """No max_tokens, as LangChain sends: the loop ends within a bounded number of tokens, not at the
    end of the 2048-token slot."""
    answer = client.chat.completions.create(model=TEST_MODEL, messages=LOOPING, temperature=0)
    assert answer.choices[0].finish_reason == "length"
    assert "1, 1, 1, 1" in answer.choices[0].message.content
    assert 64 <= answer.usage.completion_tokens <= LOOP_BOUND
    assert answer.usage.prompt_tokens > 10
    assert answer.usage.total_tokens == answer.usage.prompt_tokens + answer.usage.completion_tokens


def test_repetition_loop_streamed_ends_as_length_with_usage(client):
    chunks = list(client.chat.completions.create(model=TEST_MODEL, messages=LOOPING, temperature=0, stream=True,
                                                 stream_options={"include_usage": True}))
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["length"]
    usage = chunks[-1].usage
    assert chunks[-1].choices == [] and 64 <= usage.completion_tokens <= LOOP_BOUND
    assert usage.prompt_tokens > 10
