"""POST /v1/completions (legacy) on the local model."""

from tests.stack import TEST_MODEL


def test_plain_completion(client):
    answer = client.completions.create(model="gpt-3.5-turbo-instruct", prompt="Once upon a time", max_tokens=6, seed=1)
    assert answer.object == "text_completion" and answer.id.startswith("cmpl-")
    assert answer.model == "gpt-3.5-turbo-instruct"
    [choice] = answer.choices
    assert choice.text and choice.finish_reason == "length"
    assert answer.usage.completion_tokens == 6 and answer.usage.prompt_tokens >= 3


def test_default_max_tokens_is_16(client):
    answer = client.completions.create(model=TEST_MODEL, prompt="Write a long essay about the sea:")
    assert answer.usage.completion_tokens <= 16


def test_list_of_prompts_and_n(client):
    answer = client.completions.create(model=TEST_MODEL, prompt=["The cat", "The dog"], n=2, max_tokens=3, seed=1)
    assert [c.index for c in answer.choices] == [0, 1, 2, 3]
    assert answer.usage.completion_tokens == sum(1 for _ in answer.choices) * 3


def test_token_id_prompt(client):
    answer = client.completions.create(model=TEST_MODEL, prompt=[504, 2767, 314], max_tokens=3)
    assert answer.usage.prompt_tokens == 3


def test_stream(client):
    chunks = list(client.completions.create(model=TEST_MODEL, prompt="Once upon a time", max_tokens=5, stream=True, seed=1,
                                            stream_options={"include_usage": True}))
    *body, last = chunks
    assert all(c.object == "text_completion" and c.id == chunks[0].id for c in chunks)
    assert "".join(c.choices[0].text for c in body)
    assert [c.choices[0].finish_reason for c in body].count("length") == 1
    assert last.choices == [] and last.usage.completion_tokens == 5


def test_logprobs_in_legacy_shape(client):
    answer = client.completions.create(model=TEST_MODEL, prompt="The sky is", max_tokens=3, logprobs=2)
    logprobs = answer.choices[0].logprobs
    assert 1 <= len(logprobs.tokens) == len(logprobs.token_logprobs) == len(logprobs.text_offset) <= 3
    assert all(lp <= 0 for lp in logprobs.token_logprobs)
    assert "".join(logprobs.tokens) == answer.choices[0].text
