"""Several tool calls in one turn on the default local model (Qwen2.5-Coder-0.5B behind `gpt-4`):
constrained like a single call, streamed in OpenAI's index order. The model is not told it may make
several calls (that lowered its tool-loop score), so the conversation shows it one earlier turn that
did, as an agent's history does."""

import json
import os

import openai
import pytest

from tests.stack import Stack, make_key

CONFIG = os.path.join(os.path.dirname(__file__), os.pardir, "config", "models.toml")
TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Current weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
HISTORY = [
    {"role": "user", "content": "What is the weather in Rome and in Oslo?"},
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'}},
        {"id": "call_b", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}]},
    {"role": "tool", "tool_call_id": "call_a", "content": "sunny, 24 C"},
    {"role": "tool", "tool_call_id": "call_b", "content": "rain, 9 C"},
    {"role": "assistant", "content": "Rome: sunny, 24 C. Oslo: rain, 9 C."},
    {"role": "user", "content": "And in Paris and in Tokyo?"},
]


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    stack = Stack(home=str(tmp_path_factory.mktemp("parallel")))
    try:
        stack.start_nats()
        stack.key = make_key(stack.nats_url)
        with open(CONFIG) as f:
            stack.start_chat(f.read())
        stack.start_edge()
        yield openai.OpenAI(base_url=stack.base_url, api_key=stack.key, max_retries=0, timeout=300)
    finally:
        stack.stop()


def test_two_calls_in_one_turn(client):
    answer = client.chat.completions.create(model="gpt-4", messages=HISTORY, tools=TOOLS, tool_choice="required",
                                            temperature=0)
    choice = answer.choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls
    assert len(calls) == 2, calls
    assert {json.loads(c.function.arguments)["city"] for c in calls} == {"Paris", "Tokyo"}
    assert len({c.id for c in calls}) == 2 and all(c.id.startswith("call_") for c in calls)


def test_two_calls_stream_in_index_order(client):
    deltas = []
    for chunk in client.chat.completions.create(model="gpt-4", messages=HISTORY, tools=TOOLS, tool_choice="required",
                                                temperature=0, stream=True):
        for choice in chunk.choices:
            deltas.extend(choice.delta.tool_calls or [])
    indexes = [d.index for d in deltas]
    assert indexes == sorted(indexes) and set(indexes) == {0, 1}, indexes
    for index in (0, 1):
        mine = [d for d in deltas if d.index == index]
        assert mine[0].id and mine[0].function.name == "get_weather"  # id and name first, once
        assert all(d.id is None for d in mine[1:])
        arguments = json.loads("".join(d.function.arguments or "" for d in mine))
        assert arguments["city"] in ("Paris", "Tokyo")


def test_parallel_tool_calls_false_makes_one_call(client):
    answer = client.chat.completions.create(model="gpt-4", messages=HISTORY, tools=TOOLS, tool_choice="required",
                                            temperature=0, parallel_tool_calls=False)
    assert len(answer.choices[0].message.tool_calls) == 1
