"""Function calling on the local model: calls valid by construction, in OpenAI's shapes."""

import json

import jsonschema
import openai
import pytest

from tests.stack import TEST_MODEL

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
            "required": ["city", "unit"],
            "additionalProperties": False,
        },
    },
}
TIME = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "Get the current time in a timezone.",
        "parameters": {"type": "object", "properties": {"timezone": {"type": "string"}}, "required": ["timezone"]},
    },
}
ASK = [{"role": "user", "content": "What is the weather in Paris, in celsius?"}]
PARAMS = {t["function"]["name"]: t["function"]["parameters"] for t in (WEATHER, TIME)}


def check_call(call, names=("get_weather", "get_time")):
    assert call.id.startswith("call_") and call.type == "function"
    assert call.function.name in names
    jsonschema.validate(json.loads(call.function.arguments), PARAMS[call.function.name])


@pytest.mark.parametrize("choice", ["required", {"type": "function", "function": {"name": "get_weather"}}])
def test_required_and_named_choices_always_call(client, choice):
    answer = client.chat.completions.create(model=TEST_MODEL, messages=ASK, tools=[WEATHER, TIME],
                                            tool_choice=choice, max_tokens=100, seed=3)
    [choice0] = answer.choices
    # OpenAI ends a call forced by name with "stop", one forced by "required" with "tool_calls".
    assert choice0.finish_reason == ("stop" if isinstance(choice, dict) else "tool_calls")
    assert choice0.message.content is None
    [call] = choice0.message.tool_calls
    check_call(call, ("get_weather",) if isinstance(choice, dict) else ("get_weather", "get_time"))


def test_auto_answers_with_a_call_or_words(client):
    for seed in range(3):
        answer = client.chat.completions.create(model=TEST_MODEL, messages=ASK, tools=[WEATHER, TIME],
                                                max_tokens=100, seed=seed)
        message = answer.choices[0].message
        if message.tool_calls:
            assert answer.choices[0].finish_reason == "tool_calls"
            check_call(message.tool_calls[0])
        else:
            assert isinstance(message.content, str) and not message.content.startswith('{"response"')


def test_none_never_calls(client):
    answer = client.chat.completions.create(model=TEST_MODEL, messages=ASK, tools=[WEATHER], tool_choice="none",
                                            max_tokens=20)
    assert answer.choices[0].message.tool_calls is None and answer.choices[0].finish_reason in ("stop", "length")


def test_follow_up_turn_with_tool_result(client):
    first = client.chat.completions.create(model=TEST_MODEL, messages=ASK, tools=[WEATHER], tool_choice="required",
                                           max_tokens=100, seed=1)
    call = first.choices[0].message.tool_calls[0]
    messages = [*ASK, first.choices[0].message.model_dump(exclude_none=True),
                {"role": "tool", "tool_call_id": call.id, "content": '{"temperature": 21, "sky": "sunny"}'}]
    answer = client.chat.completions.create(model=TEST_MODEL, messages=messages, tools=[WEATHER], max_tokens=60,
                                            tool_choice="none", seed=1)
    assert answer.choices[0].message.content


def test_streamed_call_in_openai_order(client):
    stream = client.chat.completions.create(model=TEST_MODEL, messages=ASK, tools=[WEATHER, TIME],
                                            tool_choice="required", max_tokens=100, stream=True, seed=2)
    chunks = [c for c in stream]
    deltas = [c.choices[0].delta for c in chunks]
    assert deltas[0].role == "assistant"
    calls = [d.tool_calls[0] for d in deltas if d.tool_calls]
    head, *fragments = calls
    assert head.index == 0 and head.id.startswith("call_") and head.type == "function" and head.function.name
    assert fragments and all(f.id is None and f.function.name is None and f.index == 0 for f in fragments)
    arguments = "".join(f.function.arguments for f in [head, *fragments])
    jsonschema.validate(json.loads(arguments), PARAMS[head.function.name])
    assert [c.choices[0].finish_reason for c in chunks if c.choices[0].finish_reason] == ["tool_calls"]


def test_streamed_named_call_finishes_with_stop(client):
    chunks = list(client.chat.completions.create(
        model=TEST_MODEL, messages=ASK, tools=[WEATHER, TIME], max_tokens=100, stream=True, seed=2,
        tool_choice={"type": "function", "function": {"name": "get_weather"}}))
    calls = [c.choices[0].delta.tool_calls[0] for c in chunks if c.choices[0].delta.tool_calls]
    assert calls[0].function.name == "get_weather"
    check_call_arguments = "".join(c.function.arguments for c in calls)
    jsonschema.validate(json.loads(check_call_arguments), PARAMS["get_weather"])
    assert [c.choices[0].finish_reason for c in chunks if c.choices[0].finish_reason] == ["stop"]


def test_streamed_auto_words_arrive_as_content(client):
    stream = client.chat.completions.create(
        model=TEST_MODEL, tools=[WEATHER], max_tokens=60, stream=True, seed=1,
        messages=[{"role": "user", "content": "Say hello to me. Do not call any function."}])
    deltas = [c.choices[0].delta for c in stream]
    text = "".join(d.content or "" for d in deltas)
    if not any(d.tool_calls for d in deltas):
        assert text and not text.lstrip().startswith("{")


def test_unknown_named_tool_and_bad_choice_are_400(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=TEST_MODEL, messages=ASK, tools=[WEATHER],
                                       tool_choice={"type": "function", "function": {"name": "nope"}})
    assert caught.value.body["param"] == "tool_choice"
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model=TEST_MODEL, messages=ASK, tools=[WEATHER], tool_choice="sometimes")


def test_parameters_we_cannot_enforce_are_400(client):
    tool = {"type": "function", "function": {"name": "f", "parameters": {
        "type": "object", "patternProperties": {"^x": {"type": "string"}}}}}
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=TEST_MODEL, messages=ASK, tools=[tool], tool_choice="required")
    assert caught.value.body["param"] == "tools[0].function.parameters"
