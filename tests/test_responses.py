"""POST /v1/responses on the local model, through edge → NATS → responses → chat, with the openai
SDK: plain and streamed answers, the SDK's stream helper, function tools (a round trip through
`previous_response_id` and `function_call_output`), structured output, and the 4xx for what
cannot run."""

import json
import time

import openai
import pytest

from services.responses import janitor
from services.responses.context import Context
from services.responses.events import EventLog
from services.responses.settings import ResponsesSettings
from services.responses.tables import Tables
from shared.settings import from_env
from tests.responses_fixtures import leave_mid_stream
from tests.stack import TEST_MODEL

WEATHER = {"type": "function", "name": "get_weather", "description": "The weather in a city.",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
                          "additionalProperties": False}, "strict": True}


@pytest.fixture(scope="module")
def client(responses_client):
    return responses_client()


def test_plain_response_in_openai_shape(client):
    response = client.responses.create(model=TEST_MODEL, input="What is the capital of France?",
                                       instructions="Answer in one sentence.", max_output_tokens=16,
                                       temperature=0.2, top_p=0.9, metadata={"k": "v"}, user="u-1")
    assert response.object == "response" and response.id.startswith("resp_")
    assert response.status in ("completed", "incomplete")
    [message] = response.output
    assert message.type == "message" and message.role == "assistant" and message.id.startswith("msg_")
    [part] = message.content
    assert part.type == "output_text" and part.annotations == [] and part.text
    assert response.output_text == part.text
    usage = response.usage
    assert usage.input_tokens > 5 and 0 < usage.output_tokens <= 16
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens
    assert response.metadata == {"k": "v"} and response.instructions == "Answer in one sentence."
    assert response.temperature == 0.2 and response.top_p == 0.9 and response.max_output_tokens == 16


def test_max_output_tokens_reached_is_incomplete(client):
    response = client.responses.create(model=TEST_MODEL, input="Write a long story about a dragon.",
                                       max_output_tokens=3)
    assert response.status == "incomplete"
    assert response.incomplete_details.reason == "max_output_tokens"
    assert response.output[0].status == "incomplete"
    assert response.usage.output_tokens == 3


def test_streamed_events_in_order_with_sequence_numbers(client):
    events = list(client.responses.create(model=TEST_MODEL, input="Say hello.", max_output_tokens=8, stream=True))
    kinds = [event.type for event in events]
    assert [event.sequence_number for event in events] == list(range(len(events)))
    assert kinds[:4] == ["response.created", "response.in_progress", "response.output_item.added",
                         "response.content_part.added"]
    assert kinds[-4:] == ["response.output_text.done", "response.content_part.done", "response.output_item.done",
                          "response.completed" if events[-1].response.status == "completed" else "response.incomplete"]
    assert set(kinds[4:-4]) == {"response.output_text.delta"}
    assert events[0].response.status == "in_progress" and events[0].response.output == []
    text = "".join(event.delta for event in events if event.type == "response.output_text.delta")
    assert text and events[-4].text == text and events[-2].item.content[0].text == text
    final = events[-1].response
    assert final.output_text == text and final.usage.output_tokens > 0
    item_ids = {getattr(event, "item_id", None) for event in events} - {None}
    assert item_ids == {final.output[0].id}


def test_sdk_stream_helper_and_its_final_response(client):
    # (At temperature 0 this model answers briefly: the stream ends `response.completed`.)
    with client.responses.stream(model=TEST_MODEL, input="Name a colour.", instructions="Answer in one word.",
                                 temperature=0, max_output_tokens=60) as stream:
        deltas = [event.delta for event in stream if event.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert final.output_text == "".join(deltas) and final.id.startswith("resp_")
    assert client.responses.retrieve(final.id).output_text == final.output_text


def test_function_call_round_trip_through_previous_response_id(client):
    first = client.responses.create(model=TEST_MODEL, input="What is the weather in Paris?", tools=[WEATHER],
                                    tool_choice="required", max_output_tokens=60)
    [call] = first.output
    assert call.type == "function_call" and call.name == "get_weather" and call.id.startswith("fc_")
    assert call.call_id and call.status == "completed" and isinstance(json.loads(call.arguments), dict)
    second = client.responses.create(model=TEST_MODEL, previous_response_id=first.id, tools=[WEATHER],
                                     input=[{"type": "function_call_output", "call_id": call.call_id,
                                             "output": "sunny, 21 C"}], tool_choice="none",
                                     max_output_tokens=24)
    assert second.previous_response_id == first.id and second.output[0].type == "message"
    # The turn after saw the question, the call and its output: as many tokens as all three given by hand.
    by_hand = client.responses.create(model=TEST_MODEL, tools=[WEATHER], tool_choice="none", max_output_tokens=1,
                                      input=[{"role": "user", "content": "What is the weather in Paris?"},
                                             call.model_dump(exclude_none=True),
                                             {"type": "function_call_output", "call_id": call.call_id,
                                              "output": "sunny, 21 C"}])
    assert second.usage.input_tokens == by_hand.usage.input_tokens
    [output] = client.responses.input_items.list(second.id).data
    assert output.type == "function_call_output" and output.call_id == call.call_id


def test_streamed_function_call_arguments_are_not_text(client):
    events = list(client.responses.create(model=TEST_MODEL, input="Weather in Oslo?", tools=[WEATHER],
                                          tool_choice={"type": "function", "name": "get_weather"},
                                          max_output_tokens=60, stream=True))
    kinds = [event.type for event in events]
    assert "response.output_text.delta" not in kinds and "response.function_call_arguments.delta" in kinds
    done = next(event for event in events if event.type == "response.function_call_arguments.done")
    deltas = "".join(event.delta for event in events if event.type == "response.function_call_arguments.delta")
    assert done.arguments == deltas and done.name == "get_weather"
    assert json.loads(deltas)["city"]
    item = next(event.item for event in events if event.type == "response.output_item.done")
    assert item.type == "function_call" and item.arguments == deltas and done.item_id == item.id
    assert events[-1].type == "response.completed" and events[-1].response.output[0].call_id == item.call_id


def test_previous_response_id_carries_every_item(client):
    """A context built by hand and one rebuilt from stored responses give the model the same
    tokens: nothing (function calls, their outputs, earlier answers) is dropped."""
    call = {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": '{"city": "Rome"}'}
    result = {"type": "function_call_output", "call_id": "call_1", "output": "rain"}
    first = client.responses.create(model=TEST_MODEL, input=[{"role": "user", "content": "Weather in Rome?"},
                                                             call, result], max_output_tokens=5)
    chained = client.responses.create(model=TEST_MODEL, previous_response_id=first.id, input="And tomorrow?",
                                      max_output_tokens=5)
    answer = {"role": "assistant", "content": first.output_text}
    by_hand = client.responses.create(model=TEST_MODEL, input=[{"role": "user", "content": "Weather in Rome?"},
                                                               call, result, answer,
                                                               {"role": "user", "content": "And tomorrow?"}],
                                      max_output_tokens=5)
    assert chained.usage.input_tokens == by_hand.usage.input_tokens


def test_json_schema_text_format_on_the_local_model(client):
    schema = {"type": "object", "properties": {"name": {"type": "string", "maxLength": 20},
                                               "age": {"type": "integer", "minimum": 0, "maximum": 120}},
              "required": ["name", "age"], "additionalProperties": False}
    response = client.responses.create(model=TEST_MODEL, input="Describe a person as JSON.", max_output_tokens=60,
                                       text={"format": {"type": "json_schema", "name": "person", "schema": schema,
                                                        "strict": True}})
    person = json.loads(response.output_text)
    assert set(person) == {"name", "age"} and isinstance(person["age"], int)
    assert response.text.format.type == "json_schema"


def test_retrieve_delete_and_input_items_pages(client):
    given = [{"role": "user", "content": f"Message {i}."} for i in range(5)]
    response = client.responses.create(model=TEST_MODEL, input=given, max_output_tokens=2)
    assert client.responses.retrieve(response.id).id == response.id
    items = client.responses.input_items.list(response.id, order="asc").data
    assert [item.content[0].text for item in items] == [f"Message {i}." for i in range(5)]
    assert all(item.id.startswith("msg_") and item.type == "message" and item.role == "user" for item in items)
    newest = client.responses.input_items.list(response.id)  # `desc` by default
    assert [item.id for item in newest.data] == [item.id for item in reversed(items)]
    page = client.responses.input_items.list(response.id, order="asc", limit=2)
    assert [item.id for item in page.data] == [items[0].id, items[1].id] and page.has_more
    assert page.first_id == items[0].id and page.last_id == items[1].id
    rest = client.responses.input_items.list(response.id, order="asc", after=items[1].id, limit=10)
    assert [item.id for item in rest.data] == [item.id for item in items[2:]] and not rest.has_more
    assert [item.id for item in client.responses.input_items.list(response.id, order="asc", limit=2).iter_pages()
            .__next__().data] == [items[0].id, items[1].id]
    assert len(list(client.responses.input_items.list(response.id, limit=2))) == 5  # the SDK follows the cursor
    client.responses.delete(response.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(response.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.delete(response.id)


def test_store_false_keeps_nothing(client):
    response = client.responses.create(model=TEST_MODEL, input="Hi", max_output_tokens=2, store=False)
    assert response.store is False
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(response.id)
    with pytest.raises(openai.NotFoundError) as caught:
        client.responses.create(model=TEST_MODEL, input="Hi", previous_response_id=response.id, max_output_tokens=2)
    assert caught.value.body["param"] == "previous_response_id"


def test_another_project_sees_nothing(client, responses_client):
    response = client.responses.create(model=TEST_MODEL, input="Hi", max_output_tokens=2)
    other = responses_client()
    for call in (lambda: other.responses.retrieve(response.id), lambda: other.responses.delete(response.id),
                 lambda: other.responses.input_items.list(response.id),
                 lambda: other.responses.create(model=TEST_MODEL, input="Hi", previous_response_id=response.id)):
        with pytest.raises(openai.NotFoundError):
            call()
    assert client.responses.retrieve(response.id).id == response.id


@pytest.mark.parametrize("tool", [{"type": "web_search"}, {"type": "code_interpreter", "container": {"type": "auto"}},
                                  {"type": "image_generation"}, {"type": "computer_use_preview", "display_width": 1,
                                                                 "display_height": 1, "environment": "linux"},
                                  {"type": "mcp", "server_label": "x", "server_url": "http://x"},
                                  {"type": "file_search", "vector_store_ids": ["vs_1"]}])
def test_a_tool_that_cannot_run_is_a_400_naming_it(client, tool):
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model=TEST_MODEL, input="Hi", tools=[WEATHER, tool])
    assert caught.value.body["param"] == "tools" and tool["type"] in caught.value.body["message"]


@pytest.mark.parametrize("fields, param", [
    ({"input": [{"type": "message", "role": "user"}]}, "input[0].content"),
    ({"input": [{"role": "wizard", "content": "x"}]}, "input[0].role"),
    ({"input": "Hi", "temperature": 3}, "temperature"),
    ({"input": "Hi", "max_output_tokens": 0}, "max_output_tokens"),
    ({"input": "Hi", "text": {"format": {"type": "json_schema"}}}, "text.format.name"),
    ({"input": "Hi", "previous_response_id": "resp_x", "conversation": "conv_x"}, "conversation"),
    ({}, "input"),
])
def test_bad_input_is_an_openai_shaped_4xx(client, fields, param):
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model=TEST_MODEL, **fields)
    body = caught.value.body
    assert body["param"] == param and body["type"] == "invalid_request_error" and body["message"]


def test_unknown_model_and_unknown_fields(client):
    with pytest.raises(openai.NotFoundError) as caught:
        client.responses.create(model="no-such-model", input="Hi")
    assert caught.value.body["code"] == "model_not_found"
    response = client.responses.create(model=TEST_MODEL, input="Hi", max_output_tokens=2, truncation="auto",
                                       include=["message.output_text.logprobs"], reasoning={"effort": "low"},
                                       extra_body={"prompt_cache_key": "k", "some_future_field": {"a": 1}})
    assert response.status in ("completed", "incomplete") and response.reasoning.effort == "low"


def test_a_stream_whose_client_goes_away_ends_cancelled(client):
    """While it streams the stored response is `in_progress`; once its client leaves, the turn (and
    the model's generation) stops, and the response ends `cancelled`, never stuck in progress."""
    assert leave_mid_stream(client, TEST_MODEL) == "cancelled"


def test_a_model_that_fails_is_an_openai_shaped_error(client):
    """The chat service's own failure before any output (an upstream that does not answer) is the
    HTTP error, plain or streamed, and nothing is stored half-made."""
    for stream in (False, True):
        with pytest.raises(openai.APIStatusError) as caught:
            answer = client.responses.create(model="relay-unreachable", input="Hi", max_output_tokens=2, stream=stream)
            list(answer)
        assert caught.value.status_code >= 500 and caught.value.body["message"]


def test_input_tokens_counts_what_a_response_would_read(client):
    given = {"model": TEST_MODEL, "input": "What is the weather in Paris?", "instructions": "Be brief.",
             "tools": [WEATHER]}
    counted = client.responses.input_tokens.count(**given)
    assert counted.object == "response.input_tokens"
    response = client.responses.create(**given, max_output_tokens=1)
    assert counted.input_tokens == response.usage.input_tokens
    chained = client.responses.input_tokens.count(model=TEST_MODEL, previous_response_id=response.id, input="More?")
    assert chained.input_tokens > client.responses.input_tokens.count(model=TEST_MODEL, input="More?").input_tokens


def test_output_text_logprobs_when_included(client):
    """(A character of several tokens, an emoji say, comes as one entry: entries can be fewer than tokens.)"""
    response = client.responses.create(model=TEST_MODEL, input="Say hello.", max_output_tokens=4, top_logprobs=2,
                                       include=["message.output_text.logprobs"])
    part = response.output[0].content[0]
    assert 1 <= len(part.logprobs) <= response.usage.output_tokens and response.top_logprobs == 2
    assert "".join(p.token for p in part.logprobs) == part.text
    assert all(len(p.top_logprobs) == 2 and p.logprob <= 0 for p in part.logprobs)
    events = list(client.responses.create(model=TEST_MODEL, input="Say hello.", max_output_tokens=4, stream=True,
                                          include=["message.output_text.logprobs"]))
    deltas = [event for event in events if event.type == "response.output_text.delta"]
    streamed = [logprob for event in deltas for logprob in event.logprobs]
    assert "".join(logprob.token for logprob in streamed) == "".join(event.delta for event in deltas)
    assert all(logprob.top_logprobs == [] for logprob in streamed)
    done = next(event for event in events if event.type == "response.output_item.done")
    assert len(done.item.content[0].logprobs) == len(streamed)
    plain = client.responses.create(model=TEST_MODEL, input="Hi", max_output_tokens=2)
    assert plain.output[0].content[0].logprobs == []


def test_compact_keeps_user_messages_and_summarizes_the_rest(client):
    call = {"type": "function_call", "call_id": "call_7", "name": "get_weather", "arguments": '{"city": "Lyon"}'}
    context = [{"role": "user", "content": "What is the weather in Lyon?"}, call,
               {"type": "function_call_output", "call_id": "call_7", "output": "Sunny and 25 C in Lyon."},
               {"role": "assistant", "content": "It is sunny and 25 C in Lyon."}]
    first = client.responses.create(model=TEST_MODEL, input=context, max_output_tokens=2)
    compacted = client.responses.compact(model=TEST_MODEL, previous_response_id=first.id,
                                         input=[{"role": "user", "content": "Thanks!"}])
    assert compacted.object == "response.compaction" and compacted.usage.input_tokens > 0
    *kept, summary = compacted.output
    assert [m.content[0].text for m in kept] == ["What is the weather in Lyon?", "Thanks!"]
    assert summary.type == "compaction" and summary.id.startswith("cmp_") and summary.encrypted_content
    # The compacted output stands in for the context in the next request.
    follow = [item.model_dump(exclude_none=True) for item in compacted.output]
    response = client.responses.create(model=TEST_MODEL, input=[*follow, {"role": "user", "content": "And now?"}],
                                       max_output_tokens=2)
    assert response.status in ("completed", "incomplete")
    assert client.responses.input_items.list(response.id, order="asc").data[2].type == "compaction"
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model=TEST_MODEL, max_output_tokens=2, input=[
            {"type": "compaction", "encrypted_content": "not ours"}, {"role": "user", "content": "Hi"}])
    assert caught.value.body["param"] == "input[0].encrypted_content"


def test_truncation_auto_drops_the_oldest_turns_that_do_not_fit(client):
    """The test model reads 4096 tokens: ten turns of about 600 do not fit. `disabled` (the
    default) is the model's 400; `auto` drops the oldest turns until the rest fits."""
    turns = []
    for i in range(10):
        turns += [{"role": "user", "content": f"Turn {i}: " + "hello " * 600}, {"role": "assistant", "content": "Ok."}]
    given = [{"role": "system", "content": "You are terse."}, *turns, {"role": "user", "content": "Bye."}]
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model=TEST_MODEL, input=given, max_output_tokens=2)
    assert caught.value.body["code"] == "context_length_exceeded"
    response = client.responses.create(model=TEST_MODEL, input=given, max_output_tokens=2, truncation="auto")
    assert response.truncation == "auto" and 1000 < response.usage.input_tokens < 4096
    assert len(client.responses.input_items.list(response.id, limit=100).data) == len(given)  # stored whole


async def test_stored_responses_are_kept_for_their_retention(client, responses):
    """A sweep deletes a stored response past `retention_days` (30 by default, as OpenAI keeps them)."""
    response = client.responses.create(model=TEST_MODEL, input="Hi", max_output_tokens=2)
    settings = from_env(ResponsesSettings, responses.responses_env)
    tables = Tables(settings.mongo_url)
    ctx = Context(nc=None, js=None, caller=None, tables=tables, events=EventLog(tables.events, poll=0.1),
                  settings=settings)
    try:
        await janitor.sweep(ctx, now=time.time() + 29 * 86400)
        assert client.responses.retrieve(response.id).id == response.id
        await janitor.sweep(ctx, now=time.time() + 31 * 86400)
    finally:
        await tables.close()
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(response.id)
