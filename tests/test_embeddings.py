"""POST /v1/embeddings on the local MiniLM model, through the edge, with the openai SDK."""

import base64

import numpy as np
import openai
import pytest

MODEL = "text-embedding-3-small"  # an alias of all-minilm-l6-v2 in the test config


def vectors(answer) -> np.ndarray:
    return np.array([d.embedding for d in answer.data], dtype=np.float32)


def test_string_in_openai_shape(client):
    answer = client.embeddings.create(model=MODEL, input="hello world", encoding_format="float")
    assert answer.object == "list" and answer.model == MODEL
    [item] = answer.data
    assert item.object == "embedding" and item.index == 0 and len(item.embedding) == 384
    assert answer.usage.prompt_tokens == answer.usage.total_tokens == 4  # [CLS] hello world [SEP]


def test_vectors_are_normalised_and_mean_what_they_say(client):
    answer = client.embeddings.create(model=MODEL, encoding_format="float", input=[
        "A man is playing a guitar.", "Someone plays an instrument.", "The stock market fell sharply today."])
    v = vectors(answer)
    assert np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-4)
    similar, unrelated = float(v[0] @ v[1]), float(v[0] @ v[2])
    assert similar > 0.5 and unrelated < 0.2 and similar - unrelated > 0.4


def test_sdk_default_base64_matches_float(client, stack):
    texts = ["first text", "second text"]
    as_float = vectors(client.embeddings.create(model=MODEL, input=texts, encoding_format="float"))
    as_sdk_default = vectors(client.embeddings.create(model=MODEL, input=texts))  # the SDK asks for base64
    assert np.allclose(as_float, as_sdk_default, atol=1e-6)
    raw = openai.OpenAI(base_url=stack.base_url, api_key=stack.key).embeddings.with_raw_response.create(
        model=MODEL, input="first text", encoding_format="base64")
    encoded = raw.http_response.json()["data"][0]["embedding"]
    assert np.allclose(np.frombuffer(base64.b64decode(encoded), "<f4"), as_float[0], atol=1e-6)


def test_token_id_inputs_match_text(client):
    text = vectors(client.embeddings.create(model=MODEL, input="hello world", encoding_format="float"))[0]
    ids = vectors(client.embeddings.create(model=MODEL, input=[7592, 2088], encoding_format="float"))[0]
    many = vectors(client.embeddings.create(model=MODEL, input=[[7592, 2088], [7592]], encoding_format="float"))
    assert np.allclose(text, ids, atol=1e-5) and np.allclose(many[0], text, atol=1e-5) and many.shape == (2, 384)


def test_many_inputs_keep_their_order(client):
    texts = [f"sentence number {i}" for i in range(100)]
    answer = client.embeddings.create(model=MODEL, input=texts, encoding_format="float")
    assert [d.index for d in answer.data] == list(range(100))
    single = vectors(client.embeddings.create(model=MODEL, input=texts[37], encoding_format="float"))[0]
    assert np.allclose(vectors(answer)[37], single, atol=1e-4)


async def test_concurrent_requests_share_batches_and_stay_apart(aclient):
    import asyncio

    texts = [f"request {i} is about {'cats' if i % 2 else 'finance'}" for i in range(16)]
    answers = await asyncio.gather(*(aclient.embeddings.create(model=MODEL, input=t, encoding_format="float")
                                     for t in texts))
    alone = vectors(await aclient.embeddings.create(model=MODEL, input=texts[5], encoding_format="float"))[0]
    assert np.allclose(vectors(answers[5])[0], alone, atol=1e-4)


@pytest.mark.parametrize(("kwargs", "param"), [
    ({"input": ""}, "input"),
    ({"input": []}, "input"),
    ({"input": ["ok", ""]}, "input"),
    ({"input": "word " * 300}, "input"),
    ({"input": [999999]}, "input[0]"),
    ({"input": ["text", [1, 2]]}, "input"),
    ({"input": "x", "dimensions": 385}, "dimensions"),  # above the model's 384
    ({"input": "x", "dimensions": 0}, "dimensions"),
    ({"input": "x", "encoding_format": "hex"}, "encoding_format"),
    ({"input": ["x"] * 2049}, "input"),
])
def test_bad_input_is_400_with_param(client, kwargs, param):
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model=MODEL, **kwargs)
    assert caught.value.body["param"] == param


def test_unknown_and_wrong_kind_of_model(client):
    with pytest.raises(openai.NotFoundError):
        client.embeddings.create(model="no-such-embedder", input="x")
    with pytest.raises(openai.NotFoundError) as caught:
        client.embeddings.create(model="gpt-4", input="x")
    assert "/v1/embeddings" in caught.value.body["message"]


def test_upstream_routing_relays_an_openai_compatible_server(client):
    """`relay-embeddings` goes through the `openai` provider to this stack's own edge."""
    local = vectors(client.embeddings.create(model=MODEL, input="routing check", encoding_format="float"))
    relayed = client.embeddings.create(model="relay-embeddings", input="routing check", encoding_format="float")
    assert relayed.model == "all-minilm-l6-v2"  # the upstream's answer, untouched
    assert np.allclose(vectors(relayed), local, atol=1e-6)
    with pytest.raises(openai.BadRequestError):  # upstream errors keep their status
        client.embeddings.create(model="relay-embeddings", input="x", dimensions=1000)


@pytest.mark.parametrize("dimensions", [384, 256, 128, 1])
def test_dimensions_keep_the_first_values_renormalised(client, dimensions):
    """As OpenAI documents for its v3 models (and LangChain's `OpenAIEmbeddings(dimensions=…)` relies
    on): the first `dimensions` values of the vector, scaled back to length 1."""
    texts = ["A man is playing a guitar.", "The stock market fell sharply today."]
    full = vectors(client.embeddings.create(model=MODEL, input=texts, encoding_format="float"))
    expected = full[:, :dimensions] / np.linalg.norm(full[:, :dimensions], axis=1, keepdims=True)
    as_float = vectors(client.embeddings.create(model=MODEL, input=texts, dimensions=dimensions,
                                                encoding_format="float"))
    as_base64 = vectors(client.embeddings.create(model=MODEL, input=texts, dimensions=dimensions))
    for short in (as_float, as_base64):
        assert short.shape == (2, dimensions)
        assert np.allclose(np.linalg.norm(short, axis=1), 1, atol=1e-4)
        assert np.allclose(short, expected, atol=1e-5)


def test_dimensions_pass_through_to_an_upstream(client):
    relayed = client.embeddings.create(model="relay-embeddings", input="hello", dimensions=128, encoding_format="float")
    assert len(relayed.data[0].embedding) == 128
