"""From an OpenAI request to the llama.cpp requests that answer it (one per choice)."""

from dataclasses import dataclass
from typing import Any

import msgspec

from services.chat import validation
from services.chat.providers import local_tools
from services.chat.providers.base import Call
from services.chat.providers.json_schemas import unsupported
from shared import errors
from shared.protocol import chat, completions


class LlamaRequest(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One llama.cpp request, every field named (one left None is not sent). What else a client
    sends is handled here (n, tools, response_format…) or means nothing to a local model (user,
    metadata, store…)."""

    messages: list[chat.Message] | None = None  # chat
    prompt: completions.Prompt | None = None  # completions: one prompt, text or token ids
    max_tokens: int | None = None
    temperature: float
    top_p: float
    stop: chat.Stop | None = None
    seed: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    logit_bias: chat.LogitBias | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    response_format: chat.ResponseFormat | None = None
    # Always streamed, as only a streaming call can be stopped midway; token counts on every chunk
    # give the usage of a generation we stop.
    stream: bool
    stream_options: chat.StreamOptions
    timings_per_token: bool


@dataclass(slots=True)
class Prepared:
    bodies: list[dict[str, Any]]  # llama.cpp requests (`LlamaRequest`s); choice i is bodies[i]
    tools: local_tools.ToolPlan | None = None  # how tool calls are emulated, when they may happen


def prepare(call: Call, *, vocab_size: int) -> Prepared:
    """One llama.cpp request per choice: a list of prompts and `n` both fan out. Token ids (in
    `logit_bias`, in a prompt) must be in the model's vocabulary of `vocab_size`."""
    req = call.request
    validation.logit_bias(req.logit_bias, vocab_size=vocab_size)
    if isinstance(req, chat.ChatCompletionRequest):
        body, plan = _chat(req, call.model)
        prompts = [None]
    else:
        validation.prompt_tokens(req.prompt, vocab_size=vocab_size)
        body, plan = _completion(req), None
        prompts = [req.prompt] if isinstance(req.prompt, str) or isinstance(req.prompt[0], int) else req.prompt
    bodies = []
    for prompt in prompts:
        for i in range(req.n or 1):
            seed = None if req.seed is None else req.seed + i  # distinct choices, still reproducible
            bodies.append(msgspec.to_builtins(msgspec.structs.replace(body, prompt=prompt, seed=seed)))
    return Prepared(bodies=bodies, tools=plan)


def _chat(req: chat.ChatCompletionRequest, model: str) -> tuple[LlamaRequest, local_tools.ToolPlan | None]:
    _refuse_non_text(req, model)
    response_format, response_schema = _response_format(req)
    plan = local_tools.plan_for(req, response_schema)
    messages = req.messages
    if plan is not None or _has_tool_history(req):
        messages = local_tools.llama_messages(req, plan)
    if plan is not None:
        response_format = chat.ResponseFormatJsonSchema(json_schema=chat.JSONSchema(name="answer", schema=plan.schema))
    max_tokens = req.max_tokens if req.max_completion_tokens is None else req.max_completion_tokens
    return _sampled(req, messages=messages, max_tokens=max_tokens, logprobs=req.logprobs,
                    top_logprobs=req.top_logprobs, response_format=response_format), plan


def _completion(req: completions.CompletionRequest) -> LlamaRequest:
    if req.max_tokens == 0:
        raise errors.invalid_request("max_tokens must be at least 1 for this model.", param="max_tokens")
    return _sampled(req, max_tokens=req.max_tokens or 16,  # OpenAI's default
                    logprobs=None if req.logprobs is None else True, top_logprobs=req.logprobs)


def _sampled(req: chat.ChatCompletionRequest | completions.CompletionRequest, **fields) -> LlamaRequest:
    """A request with the sampling fields chat and completions share, by OpenAI's defaults (not llama.cpp's)."""
    return LlamaRequest(temperature=1.0 if req.temperature is None else req.temperature,
                        top_p=1.0 if req.top_p is None else req.top_p, stop=req.stop,
                        presence_penalty=req.presence_penalty, frequency_penalty=req.frequency_penalty,
                        logit_bias=req.logit_bias, stream=True, stream_options=chat.StreamOptions(include_usage=True),
                        timings_per_token=True, **fields)


def _response_format(req: chat.ChatCompletionRequest) -> tuple[chat.ResponseFormat | None, dict | None]:
    """The constraint llama.cpp gets for `response_format`, and the schema answers must fit."""
    match req.response_format:
        case chat.ResponseFormatJsonObject():
            if not any("json" in (local_tools.text_of(m.content) or "").lower() for m in req.messages):
                raise errors.invalid_request("'messages' must contain the word 'json' in some form, to use "
                                             "'response_format' of type 'json_object'.", param="messages")
            return chat.ResponseFormatJsonObject(), {"type": "object"}
        case chat.ResponseFormatJsonSchema(json_schema=spec):
            if spec.schema is None:
                raise errors.invalid_request("response_format json_schema needs a `name` and a `schema`.",
                                             param="response_format.json_schema")
            if problem := unsupported(spec.schema):
                raise errors.invalid_request(f"Invalid schema for response_format '{spec.name}': {problem}.",
                                             param="response_format", code="unsupported_schema")
            constraint = chat.ResponseFormatJsonSchema(json_schema=chat.JSONSchema(name=spec.name, schema=spec.schema))
            return constraint, spec.schema
    return None, None  # text, or none asked


def _has_tool_history(req: chat.ChatCompletionRequest) -> bool:
    return any(isinstance(m, chat.ToolMessage | chat.FunctionMessage) or getattr(m, "tool_calls", None)
               for m in req.messages)


def _refuse_non_text(req: chat.ChatCompletionRequest, model: str) -> None:
    for i, message in enumerate(req.messages):
        if isinstance(message.content, list):
            for j, part in enumerate(message.content):
                if not isinstance(part, chat.TextPart | chat.RefusalPart):
                    raise errors.invalid_request(
                        f"Model `{model}` accepts text only; `{part.__struct_config__.tag}` content is not supported.",
                        param=f"messages[{i}].content[{j}]", code="unsupported_content")
