"""/v1/conversations through the SDK: create (with items and metadata), retrieve, update, delete;
items listed (paged, in either order), added, retrieved, deleted; a response with `conversation`
reads the conversation as its context and appends its input and output. Another project's
conversation is a 404."""

import openai
import pytest

from tests.stack import TEST_MODEL


@pytest.fixture(scope="module")
def client(responses_client):
    return responses_client()


def test_conversation_crud(client):
    conversation = client.conversations.create(metadata={"topic": "demo"},
                                               items=[{"role": "user", "content": "Hello!"}])
    assert conversation.object == "conversation" and conversation.id.startswith("conv_")
    assert conversation.metadata == {"topic": "demo"} and conversation.created_at > 0
    assert client.conversations.retrieve(conversation.id).id == conversation.id
    updated = client.conversations.update(conversation.id, metadata={"topic": "changed"})
    assert updated.metadata == {"topic": "changed"}
    assert client.conversations.retrieve(conversation.id).metadata == {"topic": "changed"}
    deleted = client.conversations.delete(conversation.id)
    assert (deleted.id, deleted.deleted, deleted.object) == (conversation.id, True, "conversation.deleted")
    with pytest.raises(openai.NotFoundError):
        client.conversations.retrieve(conversation.id)
    with pytest.raises(openai.NotFoundError):
        client.conversations.items.list(conversation.id)


def test_empty_conversation(client):
    conversation = client.conversations.create()
    assert conversation.metadata == {}
    page = client.conversations.items.list(conversation.id)
    assert page.data == [] and not page.has_more


def test_items_added_listed_retrieved_deleted(client):
    conversation = client.conversations.create(items=[{"role": "user", "content": f"Message {i}."} for i in range(3)])
    added = client.conversations.items.create(conversation.id, items=[
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "An answer."}]},
        {"type": "function_call", "call_id": "call_9", "name": "lookup", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_9", "output": "found"}])
    assert [item.type for item in added.data] == ["message", "function_call", "function_call_output"]
    assert added.data[1].id.startswith("fc_") and added.first_id == added.data[0].id
    oldest = client.conversations.items.list(conversation.id, order="asc").data
    assert [getattr(item, "role", item.type) for item in oldest] == ["user", "user", "user", "assistant",
                                                                     "function_call", "function_call_output"]
    assert oldest[0].content[0].text == "Message 0." and oldest[0].id.startswith("msg_")
    newest = client.conversations.items.list(conversation.id)  # `desc` by default
    assert [item.id for item in newest.data] == [item.id for item in reversed(oldest)]
    page = client.conversations.items.list(conversation.id, order="asc", limit=4)
    assert [item.id for item in page.data] == [item.id for item in oldest[:4]] and page.has_more
    rest = client.conversations.items.list(conversation.id, order="asc", after=page.last_id)
    assert [item.id for item in rest.data] == [item.id for item in oldest[4:]] and not rest.has_more
    assert len(list(client.conversations.items.list(conversation.id, limit=2))) == 6  # the SDK pages on
    item = client.conversations.items.retrieve(oldest[4].id, conversation_id=conversation.id)
    assert item.type == "function_call" and item.call_id == "call_9"
    after = client.conversations.items.delete(oldest[4].id, conversation_id=conversation.id)
    assert after.object == "conversation" and after.id == conversation.id
    assert len(client.conversations.items.list(conversation.id).data) == 5
    with pytest.raises(openai.NotFoundError):
        client.conversations.items.retrieve(oldest[4].id, conversation_id=conversation.id)


def test_a_response_in_a_conversation_reads_and_extends_it(client):
    conversation = client.conversations.create(items=[{"role": "system", "content": "You are terse."}])
    first = client.responses.create(model=TEST_MODEL, conversation=conversation.id, input="Say hi.",
                                    max_output_tokens=5)
    assert first.conversation.id == conversation.id
    items = client.conversations.items.list(conversation.id, order="asc").data
    assert [getattr(item, "role", None) for item in items] == ["system", "user", "assistant"]
    assert items[2].id == first.output[0].id and items[2].content[0].text == first.output_text
    second = client.responses.create(model=TEST_MODEL, conversation={"id": conversation.id}, input="Again.",
                                     max_output_tokens=5)
    # The second turn saw the whole conversation: as many tokens as the same items given by hand.
    by_hand = client.responses.create(model=TEST_MODEL, max_output_tokens=1, input=[
        {"role": "system", "content": "You are terse."}, {"role": "user", "content": "Say hi."},
        {"role": "assistant", "content": first.output_text}, {"role": "user", "content": "Again."}])
    assert second.usage.input_tokens == by_hand.usage.input_tokens
    assert len(client.conversations.items.list(conversation.id).data) == 5


def test_another_project_sees_nothing(client, responses_client):
    conversation = client.conversations.create(items=[{"role": "user", "content": "Mine."}])
    item_id = client.conversations.items.list(conversation.id).data[0].id
    other = responses_client()
    for call in (lambda: other.conversations.retrieve(conversation.id),
                 lambda: other.conversations.update(conversation.id, metadata={"a": "b"}),
                 lambda: other.conversations.delete(conversation.id),
                 lambda: other.conversations.items.list(conversation.id),
                 lambda: other.conversations.items.create(conversation.id, items=[{"role": "user", "content": "x"}]),
                 lambda: other.conversations.items.retrieve(item_id, conversation_id=conversation.id),
                 lambda: other.conversations.items.delete(item_id, conversation_id=conversation.id),
                 lambda: other.responses.create(model=TEST_MODEL, input="Hi", conversation=conversation.id)):
        with pytest.raises(openai.NotFoundError):
            call()
    assert len(client.conversations.items.list(conversation.id).data) == 1


@pytest.mark.parametrize("fields, param", [
    ({"items": [{"role": "user"}]}, "items[0].content"),
    ({"metadata": {"k": "v" * 513}}, "metadata"),
    ({"metadata": {"a\x00b": "v"}}, "metadata"),  # a bad key names its map
    ({"items": [{"role": "user", "content": "x"}] * 21}, "items"),
])
def test_bad_input_is_an_openai_shaped_400(client, fields, param):
    with pytest.raises(openai.BadRequestError) as caught:
        client.conversations.create(**fields)
    assert caught.value.body["param"] == param and caught.value.body["type"] == "invalid_request_error"
