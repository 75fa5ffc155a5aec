"""Logprobs from the model's real distribution, logit_bias, penalties: through the edge."""

import math

from tests.stack import TEST_MODEL

ASK = [{"role": "user", "content": "Name a colour."}]


def shown_tokens(completion_tokens: int, finish_reason: str) -> int:
    """Tokens that carry logprobs: usage also counts the end-of-text token a model stops on."""
    return completion_tokens - (finish_reason == "stop")


def test_chat_logprobs_and_top_logprobs(client):
    answer = client.chat.completions.create(model=TEST_MODEL, messages=ASK, max_tokens=5, logprobs=True,
                                            top_logprobs=3)
    content = answer.choices[0].logprobs.content
    assert len(content) == shown_tokens(answer.usage.completion_tokens, answer.choices[0].finish_reason)
    assert "".join(t.token for t in content) == answer.choices[0].message.content
    for token in content:
        assert token.logprob <= 0 and bytes(token.bytes).decode("utf-8", "replace")
        assert len(token.top_logprobs) == 3
        assert [t.logprob for t in token.top_logprobs] == sorted((t.logprob for t in token.top_logprobs), reverse=True)
        assert sum(math.exp(t.logprob) for t in token.top_logprobs) <= 1.0001


def test_logprobs_in_stream(client):
    chunks = list(client.chat.completions.create(model=TEST_MODEL, messages=ASK, max_tokens=4, logprobs=True,
                                                 top_logprobs=2, stream=True, stream_options={"include_usage": True}))
    tokens = [t for c in chunks if c.choices and c.choices[0].logprobs for t in c.choices[0].logprobs.content]
    finish = next(c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason)
    assert tokens and len(tokens) == shown_tokens(chunks[-1].usage.completion_tokens, finish)
    assert all(len(t.top_logprobs) == 2 for t in tokens)


def test_no_logprobs_unless_asked(client):
    answer = client.chat.completions.create(model=TEST_MODEL, messages=ASK, max_tokens=3)
    assert answer.choices[0].logprobs is None


def test_logit_bias_forces_a_token(client):
    answer = client.chat.completions.create(model=TEST_MODEL, messages=ASK, max_tokens=4, logit_bias={"1000": 100},
                                            logprobs=True)
    tokens = [t.token for t in answer.choices[0].logprobs.content]
    assert len(tokens) == 4 and len(set(tokens)) == 1


def test_penalties_accepted(client):
    answer = client.chat.completions.create(model=TEST_MODEL, messages=ASK, max_tokens=10, presence_penalty=1.5,
                                            frequency_penalty=-0.5)
    assert answer.choices[0].message.content is not None
