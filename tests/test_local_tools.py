"""Unit tests: the constrained JSON of the local tool emulation, turned into OpenAI deltas."""

import json

import msgspec
import pytest

from services.chat.providers import local_tools
from shared import errors
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


PARALLEL = ('[{"name": "get_weather", "arguments": {"city": "Paris", "x": {"y": "}]"}}},\n'
            ' {"name": "get_time", "arguments": {}}, {"name": "get_weather", "arguments": {"city": "Oslo"}}]')


@pytest.mark.parametrize("step", [1, 2, 7, 1000])
def test_parallel_calls_stream_in_index_order(step):
    deltas, finish = stream(PARALLEL, step=step)
    calls = [d.tool_calls[0] for d in deltas]
    heads = [c for c in calls if c.id is not None]
    assert [(h.index, h.function.name) for h in heads] == [(0, "get_weather"), (1, "get_time"), (2, "get_weather")]
    assert len({h.id for h in heads}) == 3 and all(h.type == "function" for h in heads)
    assert [c.index for c in calls] == sorted(c.index for c in calls)  # no call's fragment after the next's head
    arguments = ["".join(c.function.arguments for c in calls if c.index == i) for i in range(3)]
    assert [json.loads(a) for a in arguments] == [{"city": "Paris", "x": {"y": "}]"}}, {}, {"city": "Oslo"}]
    assert finish == "tool_calls"


def test_parallel_calls_whole():
    content, calls, finish = local_tools.finish(WORDS, PARALLEL, "stop")
    assert content is None and finish == "tool_calls"
    assert [(c.function.name, json.loads(c.function.arguments)) for c in calls] == [
        ("get_weather", {"city": "Paris", "x": {"y": "}]"}}), ("get_time", {}), ("get_weather", {"city": "Oslo"})]
    assert len({c.id for c in calls}) == 3


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
    assert local_tools.finish(plan, '{"response": "cut \\"off', "length") == ('cut "off', None, "length")


def request(**fields) -> ChatCompletionRequest:
    return msgspec.convert({"model": "m", "messages": [{"role": "user", "content": "hi"}], **fields},
                           ChatCompletionRequest)


TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}


def test_plans():
    assert local_tools.plan_for(request(), None) is None
    assert local_tools.plan_for(request(tools=[TOOL], tool_choice="none"), None) is None
    auto = local_tools.plan_for(request(tools=[TOOL]), None)
    one_call, calls, words = auto.schema["anyOf"]  # parallel_tool_calls is true by default, as on OpenAI
    assert one_call["required"] == ["name", "arguments"] and words["required"] == ["response"]
    assert calls == {"type": "array", "items": one_call, "minItems": 1} and auto.parallel and auto.words
    single = local_tools.plan_for(request(tools=[TOOL], parallel_tool_calls=False), None)
    assert [b["required"] for b in single.schema["anyOf"]] == [["name", "arguments"], ["response"]]
    required = local_tools.plan_for(request(tools=[TOOL], tool_choice="required", parallel_tool_calls=False), None)
    assert required.schema["properties"]["name"] == {"const": "f"}
    named = local_tools.plan_for(request(tools=[TOOL], tool_choice={"type": "function", "function": {"name": "f"}}),
                                 None)
    assert named.schema["properties"]["name"] == {"const": "f"} and not named.parallel
    assert named.call_finish == "stop"


@pytest.mark.parametrize("choice", [{"type": "allowed_tools", "allowed_tools": {"mode": "auto", "tools": [TOOL]}},
                                    {"type": "custom", "custom": {"name": "f"}},
                                    {"type": "function", "function": {"name": "g"}}])
def test_tool_choices_the_local_model_cannot_follow_are_400(choice):
    with pytest.raises(errors.ApiError) as caught:
        local_tools.plan_for(request(tools=[TOOL], tool_choice=choice), None)
    assert (caught.value.status, caught.value.param) == (400, "tool_choice")


def test_history_becomes_plain_roles():
    req = request(messages=[
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function",
                                              "function": {"name": "w", "arguments": "{\"c\": 1}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ])
    messages = msgspec.to_builtins(local_tools.llama_messages(req, None))  # as llama.cpp gets them
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert json.loads(messages[1]["content"]) == {"name": "w", "arguments": {"c": 1}}
    assert "sunny" in messages[2]["content"] and "w" in messages[2]["content"]
