"""Bad requests get OpenAI's error object with a 4xx and `param` naming the field; nothing breaks."""

import json
import urllib.error
import urllib.request

import httpx2
import openai
import pytest

from tests.image_upstream import png
from tests.stack import TEST_MODEL

GOOD = {"model": TEST_MODEL, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2}


@pytest.fixture
def post(stack, conformance):
    """POST raw bytes; every answer also goes to the conformance recorder."""

    def send(path: str, body: bytes):
        request = urllib.request.Request(f"{stack.base_url}{path}", data=body, method="POST", headers={
            "Authorization": f"Bearer {stack.key}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=120) as resp:
                status, raw, headers = resp.status, resp.read(), resp.headers
        except urllib.error.HTTPError as err:
            status, raw, headers = err.code, err.read(), err.headers
        conformance.record("POST", f"/v1{path}", status, headers.get("content-type", ""), raw)
        return status, json.loads(raw), headers

    return send


def with_(**changes) -> bytes:
    return json.dumps({**GOOD, **changes}).encode()


@pytest.mark.parametrize(("body", "param"), [
    (with_(temperature="hot"), "temperature"),
    (with_(temperature=3), "temperature"),
    (with_(n=0), "n"),
    (with_(n=129), "n"),
    (with_(messages=[]), "messages"),
    (with_(messages="hello"), "messages"),
    (json.dumps({"model": TEST_MODEL}).encode(), "messages"),
    (json.dumps({"messages": GOOD["messages"]}).encode(), "model"),
    (with_(messages=[{"role": "wizard", "content": "hi"}]), "messages[0].role"),
    (with_(messages=[{"content": "hi"}]), "messages[0].role"),
    (with_(messages=[{"role": "user", "content": 5}]), "messages[0].content"),
    (with_(messages=[{"role": "tool", "content": "x"}]), "messages[0].tool_call_id"),
    (with_(stop=["a", "b", "c", "d", "e"]), "stop"),
    (with_(top_logprobs=21), "top_logprobs"),
    (with_(stream="yes"), "stream"),
    (with_(messages=[{"role": "user", "content": [{"type": "file", "file": {"file_data": 5}}]}]),
     "messages[0].content[0].file.file_data"),
    (with_(response_format={"type": "xml"}), "response_format.type"),
    (with_(response_format={"type": "json_schema"}), "response_format.json_schema"),
    (with_(response_format={"type": "json_schema", "json_schema": {"schema": {}}}), "response_format.json_schema.name"),
    (with_(tool_choice="sometimes"), "tool_choice"),
    (with_(tool_choice={"type": "function"}), "tool_choice.function"),
    (with_(tool_choice={"type": "function", "function": {}}), "tool_choice.function.name"),
])
def test_chat_field_errors_name_the_param(post, body, param):
    status, answer, headers = post("/chat/completions", body)
    assert status == 400, answer
    error = answer["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error" and error["param"] == param and error["message"]
    assert headers["x-request-id"].startswith("req_")


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b"", b'"text"', b"\xff\xfe"])
def test_malformed_json_is_400(post, body):
    status, answer, _ = post("/chat/completions", body)
    assert status == 400 and answer["error"]["type"] == "invalid_request_error"


def test_completions_field_errors(post):
    status, answer, _ = post("/completions", json.dumps({"model": TEST_MODEL, "prompt": 5}).encode())
    assert status == 400 and answer["error"]["param"] == "prompt"
    status, answer, _ = post("/completions", json.dumps({"model": TEST_MODEL, "prompt": "x", "logprobs": 9}).encode())
    assert status == 400 and answer["error"]["param"] == "logprobs"


def test_body_over_the_limit_is_413(post):
    big = with_(messages=[{"role": "user", "content": "x" * (2 * 1024 * 1024)}])
    status, answer, _ = post("/chat/completions", big)
    assert status == 413 and answer["error"]["code"] == "request_too_large"


def test_prompt_over_the_context_is_400(post):
    status, answer, _ = post("/chat/completions", with_(messages=[{"role": "user", "content": "word " * 5000}]))
    assert status == 400 and answer["error"]["code"] == "context_length_exceeded"


def test_unknown_path_and_method(stack, post):
    status, answer, _ = post("/chat/nothing", with_())
    assert status == 404 and answer["error"]["code"] == "unknown_url"
    # (GET /v1/chat/completions lists stored completions; embeddings are POST only)
    request = urllib.request.Request(f"{stack.base_url}/embeddings", method="GET",
                                     headers={"Authorization": f"Bearer {stack.key}"})
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=30)
    assert caught.value.code == 405


def test_services_keep_serving_after_bad_input(post, client):
    for body in (b"{", with_(n=0), with_(messages=[{"role": "x"}])):
        post("/chat/completions", body)
    assert client.chat.completions.create(**GOOD).choices[0].message.content is not None


# Found by tests/test_fuzz.py.

@pytest.mark.usefixtures("images")
@pytest.mark.parametrize("name", ["»", "prompt\u00e9"])
def test_image_form_fields_named_beyond_ascii_are_400(stack, name):
    """An edit's or variation's text fields go upstream in a form of their own, which cannot carry a
    name beyond printable ASCII (no OpenAI parameter has one): a 400 naming it, not a 502."""
    answer = httpx2.post(f"{stack.base_url}/images/variations", headers={"Authorization": f"Bearer {stack.key}"},
                         files={"image": ("a.png", png(2, 2, (1, 2, 3)), "image/png")},
                         data={"model": "dall-e-2", name: "x"}, timeout=120)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["param"] == name and answer.json()["error"]["code"] == "unknown_parameter"


@pytest.mark.usefixtures("images")
@pytest.mark.parametrize("size", ["abc", "0x0", "12x"])
def test_a_size_the_upstream_cannot_draw_is_its_400(client, size):
    """The tests' image upstream answers a size it cannot draw as OpenAI does (a 400 naming it, which
    Vivian relays), not with a 500."""
    with pytest.raises(openai.BadRequestError) as caught:
        client.images.generate(model="dall-e-2", prompt="a cat", size=size)
    assert caught.value.body["param"] == "size"


@pytest.mark.usefixtures("jobs")
@pytest.mark.parametrize("key", ["a'b", "a\x00b", "$where", "a.b"])
def test_fine_tuning_list_metadata_keys_a_path_cannot_hold_are_400(client, key):
    """`metadata[key]=value` filters on a document path: a key with a quote (nx-27017 answered with
    an SQL syntax error), a NUL (pymongo refuses it), a leading `$` or a dot is a 400 naming it."""
    with pytest.raises(openai.BadRequestError) as caught:
        client.fine_tuning.jobs.list(metadata={key: "x"})
    assert caught.value.body["param"] == f"metadata[{key}]"
    assert client.fine_tuning.jobs.list(metadata={"plain-key_1 ok": "x"}).data == []


def test_chat_metadata_keys_mongodb_cannot_hold_are_400(client):
    """Stored with the completion (`store: true`), such a key would fail the write after the answer."""
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="gpt-4", messages=[{"role": "user", "content": "hi"}], max_tokens=1,
                                       store=True, metadata={"a\x00b": "x"})
    assert caught.value.status_code == 400 and caught.value.body["param"].startswith("metadata")
