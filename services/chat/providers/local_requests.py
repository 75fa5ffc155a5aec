"""From an OpenAI request to the llama.cpp requests that answer it (one per choice)."""

from dataclasses import dataclass
from typing import Any

import msgspec

from services.chat import validation
from services.chat.providers import local_tools
from services.chat.providers.base import Call
from services.chat.providers.json_schemas import unsupported
from shared import errors
from shared.protocol import chat

# Fields llama.cpp must not see: handled here (n, stream, tools…) or meaningless to a local model.
_NOT_FORWARDED = {"model", "stream", "stream_options", "n", "user", "metadata", "store", "tools", "tool_choice",
                  "parallel_tool_calls", "max_completion_tokens", "best_of", "echo", "suffix", "response_format"}


@dataclass(slots=True)
class Prepared:
    bodies: list[dict[str, Any]]  # llama.cpp requests; choice i is bodies[i]
    tools: local_tools.ToolPlan | None = None  # how tool calls are emulated, when they may happen


def prepare(call: Call, *, vocab_size: int) -> Prepared:
    """One llama.cpp request per choice: a list of prompts and `n` both fan out. Token ids (in
    `logit_bias`, in a prompt) must be in the model's vocabulary of `vocab_size`."""
    req = call.request
    validation.logit_bias(req.logit_bias, vocab_size=vocab_size)
    body = {k: v for k, v in msgspec.to_builtins(req).items() if k not in _NOT_FORWARDED}
    plan = None
    if isinstance(req, chat.ChatCompletionRequest):
        _refuse_non_text(req, call.model)
        if req.max_completion_tokens is not None:
            body["max_tokens"] = req.max_completion_tokens
        response_schema = _response_format(req, body)
        plan = local_tools.plan_for(req, response_schema)
        if plan is not None or _has_tool_history(req):
            body["messages"] = local_tools.llama_messages(req, plan)
        if plan is not None:
            body["response_format"] = {"type": "json_schema", "json_schema": {"name": "answer", "schema": plan.schema}}
        prompts = [None]
    else:
        validation.prompt_tokens(req.prompt, vocab_size=vocab_size)
        prompts = [req.prompt] if isinstance(req.prompt, str) or isinstance(req.prompt[0], int) else req.prompt
        if req.logprobs is not None:
            body["logprobs"] = True
            body["top_logprobs"] = req.logprobs
        if req.max_tokens == 0:
            raise errors.invalid_request("max_tokens must be at least 1 for this model.", param="max_tokens")
        body["max_tokens"] = req.max_tokens or 16  # OpenAI's default; `omit_defaults` dropped it
    body.setdefault("temperature", 1.0)  # OpenAI's defaults, not llama.cpp's
    body.setdefault("top_p", 1.0)
    body["stream"] = True
    body["stream_options"] = {"include_usage": True}
    body["timings_per_token"] = True  # token counts on every chunk: usage for a generation we stop
    bodies = []
    for prompt in prompts:
        for i in range(req.n or 1):
            one = dict(body)
            if prompt is not None:
                one["prompt"] = prompt
            if req.seed is not None:
                one["seed"] = req.seed + i  # distinct choices, still reproducible
            bodies.append(one)
    return Prepared(bodies=bodies, tools=plan)


def _response_format(req: chat.ChatCompletionRequest, body: dict) -> dict | None:
    """Put the constraint for `response_format` into `body`; return the schema answers must fit."""
    fmt = req.response_format
    kind = (fmt or {}).get("type", "text")
    if kind == "text":
        return None
    if kind == "json_object":
        if not any("json" in (local_tools.text_of(m.content) or "").lower() for m in req.messages):
            raise errors.invalid_request("'messages' must contain the word 'json' in some form, to use "
                                         "'response_format' of type 'json_object'.", param="messages")
        body["response_format"] = {"type": "json_object"}
        return {"type": "object"}
    if kind == "json_schema":
        spec = fmt.get("json_schema")
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str) or "schema" not in spec:
            raise errors.invalid_request("response_format json_schema needs a `name` and a `schema`.",
                                         param="response_format.json_schema")
        if problem := unsupported(spec["schema"]):
            raise errors.invalid_request(f"Invalid schema for response_format '{spec['name']}': {problem}.",
                                         param="response_format", code="unsupported_schema")
        body["response_format"] = {"type": "json_schema", "json_schema": {"name": spec["name"], "schema": spec["schema"]}}
        return spec["schema"]
    raise errors.invalid_request(f"Invalid value for 'response_format.type': {kind!r}. Supported values are "
                                 "'text', 'json_object' and 'json_schema'.", param="response_format.type")


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
