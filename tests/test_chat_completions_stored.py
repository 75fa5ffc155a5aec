"""Stored chat completions (`store: true`), through the SDK: a completion, plain or streamed, is
kept with its request's messages and `metadata`, owned by the key's project; it is listed (filtered
by model and metadata, paged by cursor in either order), retrieved, updated, deleted, and its
messages listed. Another project gets 404s; `store` false or absent keeps nothing; a chat service
without a database keeps nothing and answers as for completions that do not exist.

Storing happens after the answer, in the background, so the tests wait for a completion to
appear before they look at it."""

import secrets
import time

import msgspec
import openai
import pytest

from services.chat.stored_completions import assemble
from shared.protocol.chat import (
    ChatCompletionChunk,
    ChoiceDelta,
    ChunkChoice,
    ToolCallDelta,
    ToolCallFunctionDelta,
    Usage,
)
from tests.files_fixtures import sdk_client, with_database
from tests.stack import TEST_MODEL, Stack, local_models_toml, make_key

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
MESSAGES = [{"role": "system", "content": "You are terse."},
            {"role": "user", "content": [{"type": "text", "text": "Say "}, {"type": "text", "text": "hello."}]}]


@pytest.fixture(scope="module")
def stored_stack(tmp_path_factory, mongo_url):
    """A private stack whose chat service keeps stored completions in a database of its own."""
    stack = Stack(home=str(tmp_path_factory.mktemp("chat-stored")))
    try:
        stack.start_nats()
        stack.start_chat(local_models_toml(), env={
            "VIVIAN_MONGO_URL": with_database(mongo_url, f"vivian_tests_chat_{secrets.token_hex(4)}")})
        stack.start_edge()
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def new_client(stored_stack, conformance):
    """`new()`: an SDK client whose key belongs to a project of its own (so its lists hold only
    what this test stored)."""
    def new() -> openai.OpenAI:
        key = make_key(stored_stack.nats_url, project=f"proj_{secrets.token_hex(6)}")
        return sdk_client(stored_stack, key, conformance)

    return new


def create(client: openai.OpenAI, **kwargs):
    return client.chat.completions.create(model=kwargs.pop("model", TEST_MODEL),
                                          messages=kwargs.pop("messages", MESSAGES),
                                          max_tokens=kwargs.pop("max_tokens", 8), temperature=0, **kwargs)


def wait_stored(client: openai.OpenAI, completion_id: str, timeout: float = 60.0):
    """A stored completion is written after its answer: it appears shortly after."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return client.chat.completions.retrieve(completion_id)
        except openai.NotFoundError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def wait_listed(client: openai.OpenAI, count: int, timeout: float = 60.0) -> list:
    deadline = time.monotonic() + timeout
    while True:
        data = client.chat.completions.list(limit=100).data
        if len(data) >= count or time.monotonic() > deadline:
            return data
        time.sleep(0.2)


def test_a_stored_completion_is_retrieved_listed_updated_and_deleted(new_client):
    client = new_client()
    answer = create(client, store=True, metadata={"topic": "greeting", "team": "a"})
    stored = wait_stored(client, answer.id)
    assert stored.object == "chat.completion" and stored.id == answer.id
    assert stored.choices[0].message.content == answer.choices[0].message.content
    assert stored.choices[0].finish_reason == answer.choices[0].finish_reason
    assert stored.usage.total_tokens == answer.usage.total_tokens
    assert stored.metadata == {"topic": "greeting", "team": "a"}

    assert [c.id for c in client.chat.completions.list().data] == [answer.id]
    assert [c.id for c in client.chat.completions.list(model=TEST_MODEL).data] == [answer.id]
    assert client.chat.completions.list(model="gpt-3.5-turbo-instruct").data == []
    alias = create(client, model="gpt-4", store=True)  # an alias: listed under it (and the name that answered)
    wait_stored(client, alias.id)
    assert [c.id for c in client.chat.completions.list(model="gpt-4").data] == [alias.id]
    assert [c.id for c in client.chat.completions.list(model=TEST_MODEL).data] == \
        [answer.id, *([alias.id] if alias.model == TEST_MODEL else [])]
    client.chat.completions.delete(alias.id)
    assert [c.id for c in client.chat.completions.list(metadata={"topic": "greeting"}).data] == [answer.id]
    assert [c.id for c in client.chat.completions.list(metadata={"topic": "greeting", "team": "a"}).data] \
        == [answer.id]
    assert client.chat.completions.list(metadata={"topic": "greeting", "team": "b"}).data == []

    messages = client.chat.completions.messages.list(answer.id)
    assert [(m.id, m.role, m.content) for m in messages.data] == [
        (f"{answer.id}-0", "system", "You are terse."), (f"{answer.id}-1", "user", "Say hello.")]
    assert messages.data[1].content_parts[1].text == "hello."
    assert messages.has_more is False and messages.first_id == f"{answer.id}-0"

    for metadata in ({f"k{i}": "v" for i in range(17)}, {"k": "v" * 513}, {"k" * 65: "v"}):
        with pytest.raises(openai.BadRequestError) as err:
            client.chat.completions.update(answer.id, metadata=metadata)
        assert err.value.body["param"].startswith("metadata")
    updated = client.chat.completions.update(answer.id, metadata={"topic": "changed"})
    assert updated.id == answer.id and updated.metadata == {"topic": "changed"}
    assert client.chat.completions.retrieve(answer.id).metadata == {"topic": "changed"}
    assert client.chat.completions.list(metadata={"topic": "greeting"}).data == []

    deleted = client.chat.completions.delete(answer.id)
    assert (deleted.object, deleted.id, deleted.deleted) == ("chat.completion.deleted", answer.id, True)
    with pytest.raises(openai.NotFoundError) as err:
        client.chat.completions.retrieve(answer.id)
    assert err.value.body["type"] == "invalid_request_error" and answer.id in err.value.body["message"]
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.delete(answer.id)
    assert client.chat.completions.list().data == []


def test_a_streamed_completion_is_stored_assembled(new_client):
    client = new_client()
    chunks = list(create(client, store=True, stream=True, stream_options={"include_usage": True},
                         metadata={"kind": "stream"}, max_tokens=12))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    stored = wait_stored(client, chunks[0].id)
    assert stored.choices[0].message.content == text and stored.choices[0].message.role == "assistant"
    assert stored.choices[0].finish_reason == finish[-1]
    assert stored.usage.completion_tokens == chunks[-1].usage.completion_tokens
    assert stored.metadata == {"kind": "stream"}
    assert [m.role for m in client.chat.completions.messages.list(stored.id).data] == ["system", "user"]


def test_a_streamed_tool_call_is_stored_whole(new_client):
    client = new_client()
    chunks = list(create(client, store=True, stream=True, tools=[WEATHER], tool_choice="required", max_tokens=100,
                         seed=2, messages=[{"role": "user", "content": "What is the weather in Paris?"}]))
    calls: dict[int, dict] = {}
    for chunk in chunks:
        for delta in chunk.choices[0].delta.tool_calls or () if chunk.choices else ():
            call = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
            call["id"] = delta.id or call["id"]
            call["name"] = (delta.function and delta.function.name) or call["name"]
            call["arguments"] += (delta.function and delta.function.arguments) or ""
    assert calls
    stored = wait_stored(client, chunks[0].id)
    assert [{"id": c.id, "name": c.function.name, "arguments": c.function.arguments}
            for c in stored.choices[0].message.tool_calls] == [calls[i] for i in sorted(calls)]
    assert stored.choices[0].finish_reason == next(c.choices[0].finish_reason for c in reversed(chunks)
                                                   if c.choices and c.choices[0].finish_reason)


def test_lists_page_by_cursor_in_either_order(new_client):
    client = new_client()
    ids = []
    for i in range(3):  # one after another: each is stored before the next is asked for
        ids.append(create(client, store=True, max_tokens=1, metadata={"n": str(i)}).id)
        wait_stored(client, ids[-1])
    first = client.chat.completions.list(limit=2)
    assert [c.id for c in first.data] == ids[:2] and first.has_more is True
    rest = client.chat.completions.list(limit=2, after=first.data[-1].id)
    assert [c.id for c in rest.data] == ids[2:] and rest.has_more is False
    assert [c.id for c in client.chat.completions.list(order="desc").data] == ids[::-1]
    newest = client.chat.completions.list(order="desc", limit=1)
    assert [c.id for c in client.chat.completions.list(order="desc", after=newest.data[0].id).data] == ids[1::-1]
    assert [c.id for c in client.chat.completions.list(limit=1)] == ids  # the SDK's auto-paging
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.list(after="chatcmpl-doesnotexist")
    assert err.value.body["param"] == "after"

    talk = [{"role": "user", "content": f"Message {i}."} for i in range(5)]
    answer = create(client, store=True, max_tokens=1, messages=talk)
    wait_stored(client, answer.id)
    page = client.chat.completions.messages.list(answer.id, limit=2)
    assert [m.content for m in page.data] == ["Message 0.", "Message 1."] and page.has_more is True
    page = client.chat.completions.messages.list(answer.id, limit=2, after=page.last_id)
    assert [m.content for m in page.data] == ["Message 2.", "Message 3."] and page.has_more is True
    every = [m.content for m in client.chat.completions.messages.list(answer.id, limit=2, order="desc")]
    assert every == [f"Message {i}." for i in range(4, -1, -1)]


def test_another_projects_completion_is_a_404(new_client):
    owner, other = new_client(), new_client()
    answer = create(owner, store=True, metadata={"secret": "yes"})
    wait_stored(owner, answer.id)
    for call in (lambda: other.chat.completions.retrieve(answer.id),
                 lambda: other.chat.completions.update(answer.id, metadata={"secret": "no"}),
                 lambda: other.chat.completions.delete(answer.id),
                 lambda: other.chat.completions.messages.list(answer.id)):
        with pytest.raises(openai.NotFoundError):
            call()
    assert other.chat.completions.list().data == []
    with pytest.raises(openai.BadRequestError):  # its id is no cursor for another project either
        other.chat.completions.list(after=answer.id)
    assert owner.chat.completions.retrieve(answer.id).metadata == {"secret": "yes"}


def test_store_false_or_absent_keeps_nothing(new_client):
    client = new_client()
    unstored = [create(client).id, create(client, store=False).id,
                list(create(client, stream=True))[0].id, list(create(client, store=False, stream=True))[0].id]
    marker = create(client, store=True)  # stored after the others were answered
    wait_stored(client, marker.id)
    assert [c.id for c in wait_listed(client, 1)] == [marker.id]
    for completion_id in unstored:
        with pytest.raises(openai.NotFoundError):
            client.chat.completions.retrieve(completion_id)


def test_without_a_database_nothing_is_stored(client):
    """The session stack's chat service has no database: `store: true` is accepted, and the
    completion does not exist afterwards."""
    answer = create(client, store=True, metadata={"k": "v"})
    assert answer.choices[0].message.content is not None
    streamed = list(create(client, store=True, stream=True))
    time.sleep(1)
    for completion_id in (answer.id, streamed[0].id):
        with pytest.raises(openai.NotFoundError) as err:
            client.chat.completions.retrieve(completion_id)
        assert err.value.body["code"] == "not_found"
        with pytest.raises(openai.NotFoundError):
            client.chat.completions.messages.list(completion_id)
        with pytest.raises(openai.NotFoundError):
            client.chat.completions.update(completion_id, metadata={"k": "w"})
        with pytest.raises(openai.NotFoundError):
            client.chat.completions.delete(completion_id)
    page = client.chat.completions.list()
    assert page.data == [] and page.has_more is False


def test_chunks_assemble_into_the_whole_answer():
    """Choices interleaved, tool-call fragments, the usage chunk: the stored answer is what a
    plain request would have answered."""
    def chunk(*choices, usage=None):
        extra = {"usage": usage} if usage else {}
        return msgspec.json.encode(ChatCompletionChunk(id="chatcmpl-x", created=7, model="m", choices=list(choices),
                                                       **extra))

    def call(index, **fields):
        return ChoiceDelta(tool_calls=[ToolCallDelta(index=index, **fields)])

    whole = assemble([
        chunk(ChunkChoice(index=0, delta=ChoiceDelta(role="assistant", content="Hel")),
              ChunkChoice(index=1, delta=ChoiceDelta(role="assistant"))),
        chunk(ChunkChoice(index=1, delta=call(0, id="call_a", type="function",
                                              function=ToolCallFunctionDelta(name="f", arguments='{"x"')))),
        chunk(ChunkChoice(index=0, delta=ChoiceDelta(content="lo"), finish_reason="length"),
              ChunkChoice(index=1, delta=call(1, id="call_b",
                                              function=ToolCallFunctionDelta(name="g", arguments="{}")))),
        chunk(ChunkChoice(index=1, delta=call(0, function=ToolCallFunctionDelta(arguments=": 1}")),
                          finish_reason="tool_calls")),
        chunk(usage=Usage(prompt_tokens=3, completion_tokens=4, total_tokens=7)),
    ])
    assert (whole.id, whole.created, whole.model, whole.usage.total_tokens) == ("chatcmpl-x", 7, "m", 7)
    first, second = whole.choices
    assert (first.message.content, first.message.tool_calls, first.finish_reason) == ("Hello", None, "length")
    assert second.message.content is None and second.finish_reason == "tool_calls"
    assert [(c.id, c.function.name, c.function.arguments) for c in second.message.tool_calls] == [
        ("call_a", "f", '{"x": 1}'), ("call_b", "g", "{}")]
    assert assemble([]) is None
