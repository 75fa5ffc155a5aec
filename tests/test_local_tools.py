"""Unit tests: the constrained JSON of the local tool emulation, turned into OpenAI deltas."""

import json

import msgspec
import pytest

from services.chat.providers import local_tools
from shared.protocol.chat import ChatCompletionRequest

WORDS = local_tools.ToolPlan(schema={}, words_are_json=False)


def stream(text: str, finish: str = "stop", step: int = 3, plan=WORDS):
    parser = local_tools.StreamParser(plan)
    deltas = []
    for i in range(0, len(text), step):
        deltas += parser.feed(text[i:i + step])
    rest, finish = parser.end(finish)
    return deltas + rest, finish


@pytest.mark.parametrize("step", [1, 2, 5, 100])
def test_call_streams_head_then_argument_fragments(step):
    deltas, finish = stream('{"name": "get_weather", "arguments": {"city": "Paris", "x": {"y": [1]}}}', step=step)
    head, *rest = [d.tool_calls[0] for d in deltas]
    assert (head.index, head.type, head.function.name, head.function.arguments) == (0, "function", "get_weather", "")
    assert head.id.startswith("call_") and all(r.id is None and r.function.name is None for r in rest)
    arguments = "".join(r.function.arguments for r in rest)
    assert json.loads(arguments) == {"city": "Paris", "x": {"y": [1]}} and arguments.startswith("{")
    assert finish == "tool_calls"


@pytest.mark.parametrize("step", [1, 4, 100])
def test_words_stream_decoded(step):
    deltas, finish = stream('{"response": "Hi \\"you\\" \\u00e9t\\u00e9\\n\\ud83d\\ude00 ok"}', step=step)
    assert "".join(d.content for d in deltas) == 'Hi "you" été\n😀 ok' and finish == "stop"


def test_cut_off_call_keeps_what_there_is():
    deltas, finish = stream('{"name": "f", "arguments": {"city": "Par', finish="length")
    assert "".join(d.tool_calls[0].function.arguments for d in deltas[1:]) == '{"city": "Par'
    assert finish == "length"


def test_whole_answers():
    plan = WORDS
    assert local_tools.finish(plan, '{"response": "hello"}', "stop") == ("hello", None, "stop")
    content, [call], finish = local_tools.finish(plan, '{"name": "f", "arguments": {"a": 1}}', "stop")
    assert (content, call.function.name, json.loads(call.function.arguments), finish) == (None, "f", {"a": 1}, "tool_calls")
    assert local_tools.finish(plan, '{"name": "f", "argu', "length") == ('{"name": "f", "argu', None, "length")


def request(**fields) -> ChatCompletionRequest:
    return msgspec.convert({"model": "m", "messages": [{"role": "user", "content": "hi"}], **fields},
                           ChatCompletionRequest)


TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}


def test_plans():
    assert local_tools.plan_for(request(), None) is None
    assert local_tools.plan_for(request(tools=[TOOL], tool_choice="none"), None) is None
    auto = local_tools.plan_for(request(tools=[TOOL]), None)
    assert [b["required"] for b in auto.schema["anyOf"]] == [["name", "arguments"], ["response"]]
    required = local_tools.plan_for(request(tools=[TOOL], tool_choice="required"), None)
    assert required.schema["properties"]["name"] == {"const": "f"}


def test_history_becomes_plain_roles():
    req = request(messages=[
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function",
                                              "function": {"name": "w", "arguments": "{\"c\": 1}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ])
    messages = local_tools.llama_messages(req, None)
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert json.loads(messages[1]["content"]) == {"name": "w", "arguments": {"c": 1}}
    assert "sunny" in messages[2]["content"] and "w" in messages[2]["content"]
