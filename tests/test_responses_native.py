"""POST /v1/responses passed through to an upstream that has the Responses API (`responses_api =
true`): `relay-responses`, whose upstream is this same Vivian (its edge, with the relay key) running
the local model. Vivian keeps the state: it stores the response, expands `previous_response_id`
and `conversation` into the upstream's input, and relays the upstream's events and errors."""

import json
import time

import openai
import pytest

from services.responses import native
from shared.protocol.responses import Response, ResponseFailed
from tests.responses_fixtures import leave_mid_stream
from tests.stack import TEST_MODEL
from tests.test_metrics import scrape, value

NATIVE = "relay-responses"


@pytest.fixture(scope="module")
def client(responses_client):
    return responses_client()


def upstream_calls(stack, status: str = "200") -> tuple[float, float]:
    """How many Responses and chat completions requests for the local model the edge has answered
    with `status` (the upstream's, here)."""
    samples = scrape(stack)
    return tuple(value(samples, "vivian_requests_total", route=route, model=TEST_MODEL, status=status)
                 for route in ("/v1/responses", "/v1/chat/completions"))


def test_the_upstream_gets_a_responses_request(client, responses):
    before = upstream_calls(responses)
    client.responses.create(model=NATIVE, input="Say OK.", max_output_tokens=4)
    responses_calls, chat_calls = upstream_calls(responses)
    assert (responses_calls, chat_calls) == (before[0] + 1, before[1])


def test_plain_answer_is_stored_by_vivian(client):
    response = client.responses.create(model=NATIVE, input="What is the capital of France?",
                                       instructions="Answer in one sentence.", max_output_tokens=16,
                                       metadata={"k": "v"})
    assert response.object == "response" and response.id.startswith("resp_")
    assert response.model == NATIVE and response.store is True and response.previous_response_id is None
    assert response.status in ("completed", "incomplete")
    [message] = response.output
    assert message.type == "message" and message.role == "assistant" and response.output_text
    assert response.usage.input_tokens > 5 and 0 < response.usage.output_tokens <= 16
    assert response.metadata == {"k": "v"} and response.instructions == "Answer in one sentence."
    stored = client.responses.retrieve(response.id)
    assert stored.model_dump() == response.model_dump()
    [given] = client.responses.input_items.list(response.id).data
    assert given.type == "message" and given.role == "user"
    assert given.content[0].text == "What is the capital of France?"


def test_streamed_events_are_relayed_in_order(client):
    events = list(client.responses.create(model=NATIVE, input="Say hello.", max_output_tokens=8, stream=True))
    kinds = [event.type for event in events]
    assert [event.sequence_number for event in events] == list(range(len(events)))
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] in ("response.completed", "response.incomplete")
    assert "response.output_text.delta" in kinds and "response.output_item.done" in kinds
    final = events[-1].response
    assert {e.response.id for e in events if hasattr(e, "response")} == {final.id}
    assert final.model == NATIVE and final.store is True
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert final.output_text == text
    assert client.responses.retrieve(final.id).model_dump() == final.model_dump()


def test_stream_helper_accumulates_the_relayed_events(client):
    # (At temperature 0 this model answers briefly: the stream ends `response.completed`.)
    with client.responses.stream(model=NATIVE, input="Name a colour.", instructions="Answer in one word.",
                                 temperature=0, max_output_tokens=60) as stream:
        deltas = [event.delta for event in stream if event.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert final.model == NATIVE and final.output_text == "".join(deltas)
    assert client.responses.retrieve(final.id).output_text == final.output_text


def test_follow_up_sends_the_whole_context_upstream(client):
    """The upstream keeps nothing (`store: false`): a follow-up reaches it with the earlier turn
    in its `input`. The same context through the translation (the local model, which the upstream
    runs too) counts the same input tokens; the new input alone counts fewer."""
    first = client.responses.create(model=NATIVE, input="My name is Ada. Say OK.", max_output_tokens=8)
    follow = "What is my name?"
    native = client.responses.create(model=NATIVE, input=follow, previous_response_id=first.id, max_output_tokens=4)
    translated = client.responses.create(model=TEST_MODEL, input=follow, previous_response_id=first.id,
                                         max_output_tokens=4)
    alone = client.responses.create(model=NATIVE, input=follow, max_output_tokens=4)
    assert native.previous_response_id == first.id
    assert native.usage.input_tokens == translated.usage.input_tokens > alone.usage.input_tokens
    [given] = client.responses.input_items.list(native.id).data  # only its own input is its own
    assert given.content[0].text == follow
    # and the chain goes on from the relayed response
    after = client.responses.create(model=TEST_MODEL, input="Thanks.", previous_response_id=native.id,
                                    max_output_tokens=4)
    assert after.usage.input_tokens > native.usage.input_tokens


def test_conversation_gets_input_and_output(client):
    conversation = client.conversations.create(items=[{"type": "message", "role": "user", "content": "Hello."}])
    response = client.responses.create(model=NATIVE, input="Say OK.", conversation=conversation.id,
                                       max_output_tokens=4)
    assert response.conversation.id == conversation.id
    found = client.conversations.items.list(conversation.id, order="asc").data
    assert [item.type for item in found] == ["message", "message", "message"]
    assert found[1].content[0].text == "Say OK." and found[2].id == response.output[0].id


def test_a_stream_whose_client_goes_away_ends_cancelled_upstream_too(client, responses):
    """The client leaves: Vivian's response ends `cancelled`, and the call to the upstream is
    cancelled too (its edge sees its client leave: 499)."""
    before = upstream_calls(responses, "499")[0]
    assert leave_mid_stream(client, NATIVE) == "cancelled"
    deadline = time.monotonic() + 60
    while upstream_calls(responses, "499")[0] == before:
        assert time.monotonic() < deadline, "the upstream kept generating"
        time.sleep(0.2)


@pytest.mark.parametrize("stream", [False, True])
def test_hosted_tool_goes_upstream_unchecked(client, responses, stream):
    """Vivian checks no tool type for such a model: the upstream (here Vivian's translation,
    which runs only function tools) answers, and its 400 comes back with its status."""
    before = upstream_calls(responses, "400")
    with pytest.raises(openai.BadRequestError) as raised:
        answer = client.responses.create(model=NATIVE, input="Search the web.", tools=[{"type": "web_search"}],
                                         stream=stream)
        list(answer)
    assert raised.value.status_code == 400 and "'web_search'" in raised.value.message
    assert raised.value.body["param"] == "tools"
    assert upstream_calls(responses, "400")[0] == before[0] + 1


def test_translated_model_still_refuses_a_hosted_tool(client):
    with pytest.raises(openai.BadRequestError) as raised:
        client.responses.create(model=TEST_MODEL, input="Hi", tools=[{"type": "web_search"}])
    assert "'web_search'" in raised.value.message


def test_every_object_and_event_fits_the_spec(conformance):
    assert conformance.checked["Response"] and conformance.checked["ResponseStreamEvent"]
    assert not conformance.failures, "\n".join(sorted(set(conformance.failures))[:40])


# ---------------------------------------------------------------- the relay's events, without a stack


def _turn() -> native.Turn:
    return native.Turn(Response(id="resp_ours", created_at=1, status="in_progress", model=NATIVE, store=True,
                                previous_response_id="resp_before"))


def _upstream(kind: str, seq: int, **fields) -> bytes:
    return json.dumps({"type": kind, "sequence_number": seq, **fields}).encode()


def _their_response(status: str, output: list) -> dict:
    return {"id": "resp_theirs", "object": "response", "created_at": 1, "status": status, "model": TEST_MODEL,
            "store": False, "output": output}


def test_events_carry_vivians_response_and_numbers():
    turn = _turn()
    message = {"type": "message", "id": "msg_1", "status": "completed", "role": "assistant",
               "content": [{"type": "output_text", "text": "Hi", "annotations": []}]}
    events = turn.start() + turn.data(_upstream("response.created", 7, response=_their_response("in_progress", [])))
    events += turn.data(_upstream("response.web_search_call.searching", 8, item_id="ws_1", output_index=0))
    usage = {"input_tokens": 3, "output_tokens": 1, "total_tokens": 4, "input_tokens_details": {"cached_tokens": 0},
             "output_tokens_details": {"reasoning_tokens": 0}}
    assert turn.data(_upstream("response.completed", 9, response={**_their_response("completed", [message]),
                                                                    "usage": usage})) == []
    events += turn.finish()
    assert [e["sequence_number"] for e in events] == [0, 1, 2]
    assert events[1]["type"] == "response.web_search_call.searching"  # relayed though Vivian has no struct for it
    for event in (events[0], events[2]):
        assert event["response"]["id"] == "resp_ours" and event["response"]["model"] == NATIVE
        assert event["response"]["store"] is True and event["response"]["previous_response_id"] == "resp_before"
    assert turn.response.id == "resp_ours" and turn.response.status == "completed"
    assert turn.response.output[0].content[0].text == "Hi" and turn.usage.total_tokens == 4


def test_a_response_vivian_cannot_keep_ends_failed():
    turn = _turn()
    turn.data(_upstream("response.created", 0, response=_their_response("in_progress", [])))
    turn.data(_upstream("response.completed", 1, response=_their_response(
        "completed", [{"type": "web_search_call", "id": "ws_1", "status": "completed"}])))
    [failed] = turn.finish()
    assert isinstance(failed, ResponseFailed) and failed.sequence_number == 1
    assert turn.response.status == "failed" and "cannot be kept" in turn.response.error.message


def test_an_upstream_that_stops_early_fails_the_response():
    turn = _turn()
    turn.data(_upstream("response.created", 0, response=_their_response("in_progress", [])))
    [failed] = turn.finish()
    assert isinstance(failed, ResponseFailed) and turn.response.status == "failed"
