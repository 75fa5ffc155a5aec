"""Unit tests of the one translation between the Responses API and chat completions
(services/responses/chat_translation.py): requests and items → chat requests, and chat chunks →
the typed event sequence, each event checked against OpenAI's schema."""

import json

import msgspec
import pytest

from services.responses import chat_translation, items
from services.responses.chat_translation import Turn
from shared import errors
from shared.protocol.chat import (
    ChatCompletionChunk,
    ChoiceDelta,
    ChunkChoice,
    ToolCallDelta,
    ToolCallFunctionDelta,
    Usage,
)
from shared.protocol.responses import Response, ResponseCreateRequest
from tests.conformance import violations


def chunk(delta: ChoiceDelta | None = None, finish: str | None = None, usage: Usage | None = None):
    choices = [ChunkChoice(index=0, delta=delta or ChoiceDelta(), finish_reason=finish)] if delta or finish else []
    return ChatCompletionChunk(id="c", created=1, model="m", choices=choices,
                               **({"usage": usage} if usage else {}))


def call(index: int, *, name: str | None = None, arguments: str = "", call_id: str | None = None):
    function = ToolCallFunctionDelta(name=name, arguments=arguments)
    return ChoiceDelta(tool_calls=[ToolCallDelta(index=index, id=call_id, function=function)])


def run(chunks, *, fail: errors.ApiError | None = None) -> tuple[list, Turn]:
    turn = Turn(Response(id="resp_1", created_at=1, status="in_progress", model="m"))
    events = turn.start()
    for c in chunks:
        events += turn.chunk(c)
    events += turn.fail(fail) if fail else turn.finish()
    for event in events:
        assert violations("ResponseStreamEvent", msgspec.to_builtins(event)) == [], event
    assert [e.sequence_number for e in events] == list(range(len(events)))
    return events, turn


def kinds(events) -> list[str]:
    return [type(e).__struct_config__.tag for e in events]


USAGE = Usage(prompt_tokens=7, completion_tokens=3, total_tokens=10)


def test_text_then_parallel_calls():
    events, turn = run([
        chunk(ChoiceDelta(role="assistant", content="Let me ")), chunk(ChoiceDelta(content="look.")),
        chunk(call(0, name="a", call_id="call_a")), chunk(call(0, arguments='{"x"')), chunk(call(0, arguments=": 1}")),
        chunk(call(1, name="b", call_id="call_b")), chunk(call(1, arguments="{}")),
        chunk(finish="tool_calls"), chunk(usage=USAGE)])
    assert kinds(events) == [
        "response.created", "response.in_progress",
        "response.output_item.added", "response.content_part.added",
        "response.output_text.delta", "response.output_text.delta",
        "response.output_text.done", "response.content_part.done", "response.output_item.done",
        "response.output_item.added", "response.function_call_arguments.delta",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done", "response.output_item.done",
        "response.output_item.added", "response.function_call_arguments.delta",
        "response.function_call_arguments.done", "response.output_item.done",
        "response.completed"]
    message, first, second = turn.response.output
    assert message.content[0].text == "Let me look." and message.status == "completed"
    assert (first.call_id, first.name, json.loads(first.arguments)) == ("call_a", "a", {"x": 1})
    assert (second.call_id, second.name, second.arguments) == ("call_b", "b", "{}")
    assert [e.output_index for e in events if hasattr(e, "output_index")] == [0] * 7 + [1] * 5 + [2] * 4
    usage = turn.response.usage
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (7, 3, 10)


def test_length_is_incomplete_and_refusal_has_its_events():
    events, turn = run([chunk(ChoiceDelta(refusal="No.")), chunk(ChoiceDelta(content="But")), chunk(finish="length")])
    assert "response.refusal.delta" in kinds(events) and "response.refusal.done" in kinds(events)
    assert kinds(events)[-1] == "response.incomplete"
    assert turn.response.status == "incomplete" and turn.response.incomplete_details.reason == "max_output_tokens"
    assert turn.response.output[0].status == "incomplete" and turn.response.completed_at is None


def test_failure_mid_stream_ends_failed():
    events, turn = run([chunk(ChoiceDelta(content="Hal"))], fail=errors.ApiError(502, "upstream broke",
                                                                                 type="server_error"))
    assert kinds(events)[-2:] == ["response.output_item.done", "response.failed"]
    assert turn.response.status == "failed" and turn.response.error.code == "server_error"
    error = turn.error(errors.server_error())
    assert violations("ResponseStreamEvent", msgspec.to_builtins(error)) == []


def test_items_become_chat_messages():
    given = items.parse([
        {"role": "developer", "content": "Be brief."},
        {"role": "user", "content": [{"type": "input_text", "text": "Weather? "},
                                     {"type": "input_image", "image_url": "data:image/png;base64,AA=="}]},
        {"type": "reasoning", "summary": []},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Checking."}]},
        {"type": "function_call", "call_id": "c1", "name": "w", "arguments": "{}"},
        {"type": "function_call", "call_id": "c2", "name": "t", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "sun"},
        {"type": "function_call_output", "call_id": "c2", "output": [{"type": "input_text", "text": "noon"}]},
    ], param="input")
    messages = chat_translation.messages("Answer in English.", given)
    assert [m["role"] for m in messages] == ["system", "developer", "user", "assistant", "tool", "tool"]
    assert messages[2]["content"][1] == {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA==",
                                                                            "detail": "auto"}}
    assert messages[3]["content"] == "Checking." and [c["id"] for c in messages[3]["tool_calls"]] == ["c1", "c2"]
    assert messages[5] == {"role": "tool", "tool_call_id": "c2", "content": "noon"}


def test_request_fields_map_to_chat():
    request = msgspec.convert({
        "model": "m", "input": "x", "max_output_tokens": 9, "temperature": 0.5, "top_p": 0.5, "user": "u",
        "parallel_tool_calls": False, "tool_choice": {"type": "function", "name": "w"},
        "text": {"format": {"type": "json_schema", "name": "p", "schema": {"type": "object"}, "strict": True}},
        "tools": [{"type": "function", "name": "w", "parameters": {"type": "object"}}]}, ResponseCreateRequest)
    tools = chat_translation.function_tools(request.tools)
    body = json.loads(chat_translation.chat_request(request, items.parse(request.input, param="input"), tools))
    assert body["max_completion_tokens"] == 9 and body["stream"] and body["stream_options"] == {"include_usage": True}
    assert body["tool_choice"] == {"type": "function", "function": {"name": "w"}} and not body["parallel_tool_calls"]
    assert body["response_format"] == {"type": "json_schema", "json_schema": {"name": "p", "schema": {"type": "object"},
                                                                              "strict": True}}
    assert body["tools"] == [{"type": "function", "function": {"name": "w", "parameters": {"type": "object"}}}]


def test_allowed_tools_narrow_what_is_offered():
    offered = [{"type": "function", "name": "a"}, {"type": "function", "name": "b"}]
    request = msgspec.convert({"model": "m", "tools": offered,
                               "tool_choice": {"type": "allowed_tools", "mode": "required",
                                               "tools": [{"type": "function", "name": "b"}]}}, ResponseCreateRequest)
    body = json.loads(chat_translation.chat_request(request, [], chat_translation.function_tools(request.tools)))
    assert [t["function"]["name"] for t in body["tools"]] == ["b"] and body["tool_choice"] == "required"


@pytest.mark.parametrize("tool", ["web_search_preview", "local_shell", "code_interpreter", "custom"])
def test_a_tool_that_cannot_run_is_named(tool):
    with pytest.raises(errors.ApiError) as caught:
        chat_translation.function_tools([{"type": "function", "name": "ok"}, {"type": tool}])
    assert caught.value.status == 400 and caught.value.param == "tools" and tool in caught.value.message
