"""Unit tests: the llama.cpp requests made from an OpenAI request hold only the fields named for them."""

import json

import msgspec

from services.chat.providers.base import Call
from services.chat.providers.local_requests import prepare
from shared.protocol.chat import ChatCompletionRequest
from shared.protocol.completions import CompletionRequest

ALWAYS = {"temperature": 1.0, "top_p": 1.0, "stream": True, "stream_options": {"include_usage": True},
          "timings_per_token": True}


def prepared(endpoint: str, cls: type, **fields):
    raw = json.dumps({"model": "m", **fields}).encode()
    return prepare(Call(endpoint=endpoint, request=msgspec.json.decode(raw, type=cls), raw=raw, model="m",
                        request_id="req_1"), vocab_size=100)


def test_chat_sends_what_llama_honours_and_nothing_else():
    out = prepared("chat/completions", ChatCompletionRequest, messages=[{"role": "user", "content": "json, please"}],
                   n=2, seed=3, max_tokens=9, max_completion_tokens=5, response_format={"type": "json_object"},
                   user="u", metadata={"k": "v"}, store=True, stream=True, stream_options={"include_usage": False},
                   parallel_tool_calls=True, future_field=1)
    assert out.bodies == [{**ALWAYS, "messages": [{"role": "user", "content": "json, please"}], "max_tokens": 5,
                           "seed": seed, "response_format": {"type": "json_object"}} for seed in (3, 4)]


def test_completions_fan_out_prompts_with_legacy_logprobs():
    out = prepared("completions", CompletionRequest, prompt=["a", "b"], n=2, logprobs=2, echo=True, suffix="s",
                   best_of=2, temperature=0, stop="x")
    assert out.bodies == [{**ALWAYS, "prompt": prompt, "max_tokens": 16, "logprobs": True, "top_logprobs": 2,
                           "temperature": 0.0, "stop": "x"} for prompt in ("a", "a", "b", "b")]
