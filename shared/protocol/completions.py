"""`/v1/completions` (legacy): request and answers."""

from typing import Annotated, Literal

from msgspec import Meta, Struct

from shared.protocol.chat import Penalty, Probability, Stop, StreamOptions, Usage

# OpenAI allows a string, strings, token ids or lists of token ids; msgspec unions hold one array
# type, so the element type is the union.
Prompt = str | Annotated[list[str | int | list[int]], Meta(min_length=1)]


class CompletionRequest(Struct, kw_only=True, omit_defaults=True):
    model: str
    prompt: Prompt
    suffix: str | None = None
    max_tokens: Annotated[int, Meta(ge=0)] | None = 16
    temperature: Annotated[float, Meta(ge=0, le=2)] | None = None
    top_p: Probability | None = None
    n: Annotated[int, Meta(ge=1, le=128)] | None = None
    best_of: Annotated[int, Meta(ge=0, le=20)] | None = None
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    logprobs: Annotated[int, Meta(ge=0, le=5)] | None = None
    echo: bool | None = None
    stop: Stop | None = None
    seed: int | None = None
    presence_penalty: Penalty | None = None
    frequency_penalty: Penalty | None = None
    logit_bias: dict[str, Annotated[int, Meta(ge=-100, le=100)]] | None = None
    user: str | None = None


class CompletionLogprobs(Struct, kw_only=True):
    tokens: list[str] = []
    token_logprobs: list[float | None] = []
    top_logprobs: list[dict[str, float] | None] = []
    text_offset: list[int] = []


class CompletionChoice(Struct, kw_only=True):
    index: int
    text: str
    logprobs: CompletionLogprobs | None
    # null in stream chunks before the last, as OpenAI sends them (its schema says otherwise)
    finish_reason: Literal["stop", "length", "content_filter"] | None


class Completion(Struct, kw_only=True, omit_defaults=True, tag="text_completion", tag_field="object"):
    id: str
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: Usage | None = None
    system_fingerprint: str | None = None


__all__ = ["Prompt", "CompletionRequest", "CompletionLogprobs", "CompletionChoice", "Completion"]
