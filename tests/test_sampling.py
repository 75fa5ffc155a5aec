"""Logprobs from the model's real distribution, logit_bias, penalties: through the edge."""

import math

from tests.stack import TEST_MODEL

ASK = [{"role": "user", "content": "Name a colour."}]


def entries_fit(entries: int, completion_tokens: int) -> bool:
    """At most one logprobs entry per generated token, and at least one. Fewer when llama.cpp joins
    the byte tokens of one UTF-8 character (an emoji) into one entry, or stops on end-of-text, which
    usage counts and logprobs do not show."""
    return 1 <= entries <= completion_tokens


def test_chat_logprobs_and_top_logprobs(client):
    answer = client.chat.completions.create(model=TEST_MODEL, messages=ASK, max_tokens=5, logprobs=True,
                                            top_logprobs=3, seed=1)
    content = answer.choices[0].logprobs.content
    assert entries_fit(len(content), answer.usage.completion_tokens)
    assert "".join(t.token for t in content) == answer.choices[0].message.content
    for token in content:
        assert token.logprob <= 0 and bytes(token.bytes).decode("utf-8", "replace")
        assert len(token.top_logprobs) == 3
        assert [t.logprob for t in token.top_logprobs] == sorted((t.logprob for t in token.top_logprobs), reverse=True)
        assert sum(math.exp(t.logprob) for t in token.top_logprobs) <= 1.0001


def test_logprobs_in_stream(client):
    chunks = list(client.chat.completions.create(model=TEST_MODEL, messages=ASK, max_tokens=4, logprobs=True,
                                                 top_logprobs=2, stream=True, stream_options={"include_usage": True},
                                                 seed=1))
    tokens = [t for c in chunks if c.choices and c.choices[0].logprobs for t in c.choices[0].logprobs.content]
    assert entries_fit(len(tokens), chunks[-1].usage.completion_tokens)
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
