"""A GGUF model run in-process by llama.cpp (the `xllamacpp` wheel).

The model loads once per process. llama.cpp decodes up to `parallel` requests together on its own
thread; each call waits in a worker thread of ours and hands chunks to the event loop. Every call
streams internally, because only a streaming call can be stopped midway (the chunk callback
returns True to stop).
"""

import asyncio
import os
import secrets
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import msgspec

from services.chat.providers.base import Call
from shared import errors
from shared.modelconfig import LocalModel
from shared.protocol import chat, completions

# llama.cpp's OpenMP threads spin while idle unless told otherwise, and spinning threads starve
# everything else on a small machine (generation fell to a few tokens/s in our measurements).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

_END = object()
FINGERPRINT = "fp_vivian_llamacpp"
# Fields of ours that llama.cpp must not see: we handle them here (n, stream) or they mean nothing
# to a local model.
_NOT_FORWARDED = {"model", "stream", "stream_options", "n", "user", "metadata", "store", "tools",
                  "tool_choice", "parallel_tool_calls", "max_completion_tokens", "best_of", "echo", "suffix"}
_encode = msgspec.json.Encoder().encode


class LocalLlama:
    def __init__(self, entry: LocalModel) -> None:
        self._entry = entry
        self._server = None
        self._pool = ThreadPoolExecutor(max_workers=64, thread_name_prefix=f"llama-{entry.id}")

    async def start(self) -> None:
        if not os.path.isfile(self._entry.path):
            raise SystemExit(f"model {self._entry.id}: no GGUF file at {self._entry.path}")
        self._server = await asyncio.get_running_loop().run_in_executor(self._pool, self._load)

    def _load(self):
        import xllamacpp

        params = xllamacpp.CommonParams()
        params.model.path = self._entry.path
        params.n_ctx = self._entry.context_length
        params.n_parallel = self._entry.parallel
        params.cpuparams.n_threads = self._entry.threads
        params.cpuparams_batch.n_threads = self._entry.threads
        params.verbosity = 0
        params.cache_ram_mib = 0  # the prompt cache grows without bound otherwise
        params.model_alias = {self._entry.id}
        return xllamacpp.Server(params)

    async def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._server = None

    # ------------------------------------------------------------------ answers

    async def create(self, call: Call) -> bytes:
        answer_id, created = _new_id(call), int(time.time())
        texts: dict[int, list[str]] = {}
        finish: dict[int, str] = {}
        logprobs: dict[int, list] = {}
        usage = _UsageSum(call)
        async for index, chunk in self._generations(call):
            if chunk.get("usage"):
                usage.add(chunk["usage"], index)
            for choice in chunk.get("choices", ()):
                piece = choice.get("text") if "text" in choice else (choice.get("delta") or {}).get("content")
                texts.setdefault(index, []).append(piece or "")
                if choice.get("finish_reason"):
                    finish[index] = choice["finish_reason"]
                if (choice.get("logprobs") or {}).get("content"):
                    logprobs.setdefault(index, []).extend(choice["logprobs"]["content"])
        indexes = sorted(set(texts) | set(finish))
        if call.endpoint == "completions":
            answer = completions.Completion(
                id=answer_id, created=created, model=call.model, system_fingerprint=FINGERPRINT, usage=usage.result(),
                choices=[completions.CompletionChoice(
                    index=i, text="".join(texts.get(i, ())), finish_reason=finish.get(i, "stop"),
                    logprobs=_legacy_logprobs(logprobs[i]) if i in logprobs else None) for i in indexes],
            )
        else:
            answer = chat.ChatCompletion(
                id=answer_id, created=created, model=call.model, system_fingerprint=FINGERPRINT, usage=usage.result(),
                choices=[chat.Choice(
                    index=i, message=chat.ChatCompletionMessage(content="".join(texts.get(i, ()))),
                    finish_reason=finish.get(i, "stop"),
                    logprobs=msgspec.convert({"content": logprobs[i]}, chat.ChoiceLogprobs) if i in logprobs else None)
                    for i in indexes],
            )
        return _encode(answer)

    async def stream(self, call: Call) -> AsyncIterator[bytes]:
        answer_id, created = _new_id(call), int(time.time())
        usage = _UsageSum(call)
        legacy = call.endpoint == "completions"
        async for index, chunk in self._generations(call):
            if chunk.get("usage"):
                usage.add(chunk["usage"], index)
            if not chunk.get("choices"):
                continue
            for choice in chunk["choices"]:
                choice["index"] = index
            if legacy:
                for choice in chunk["choices"]:
                    if (choice.get("logprobs") or {}).get("content") is not None:
                        choice["logprobs"] = msgspec.to_builtins(_legacy_logprobs(choice["logprobs"]["content"]))
                out = completions.Completion(id=answer_id, created=created, model=call.model, system_fingerprint=FINGERPRINT,
                                             choices=msgspec.convert(chunk["choices"], list[completions.CompletionChoice]))
            else:
                out = chat.ChatCompletionChunk(id=answer_id, created=created, model=call.model, system_fingerprint=FINGERPRINT,
                                               choices=msgspec.convert(chunk["choices"], list[chat.ChunkChoice]))
            yield _encode(out)
        options = call.request.stream_options
        if options is not None and options.include_usage:
            kind = completions.Completion if legacy else chat.ChatCompletionChunk
            yield _encode(kind(id=answer_id, created=created, model=call.model, system_fingerprint=FINGERPRINT,
                               choices=[], usage=usage.result()))

    # ------------------------------------------------------------------ generation

    async def _generations(self, call: Call) -> AsyncIterator[tuple[int, dict]]:
        """Run every choice the request asks for (prompts × n) and yield `(choice index, chunk)`."""
        if self._server is None:
            raise errors.service_unavailable("local model")
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        bodies = _llama_bodies(call)
        futures = [loop.run_in_executor(self._pool, self._run, call, body, index, queue, loop)
                   for index, body in enumerate(bodies)]
        running = len(futures)
        try:
            while running:
                item = await queue.get()
                if item is _END:
                    running -= 1
                    continue
                index, chunk = item
                if "error" in chunk:
                    raise _llama_error(chunk["error"])
                yield index, chunk
        finally:
            call.cancelled.set()  # stops the siblings of a failed choice, and any run left behind
            await asyncio.gather(*futures, return_exceptions=True)

    def _run(self, call: Call, body: dict, index: int, queue: asyncio.Queue, loop: asyncio.AbstractEventLoop) -> None:
        put = loop.call_soon_threadsafe

        def on_chunk(chunk: dict) -> bool:
            put(queue.put_nowait, (index, chunk))
            return call.cancelled.is_set()

        try:
            if call.cancelled.is_set():
                return
            handle = self._server.handle_completions if call.endpoint == "completions" else self._server.handle_chat_completions
            result = handle(body, on_chunk)
            if isinstance(result, dict) and "error" in result:
                on_chunk(result)
        except Exception as err:  # llama.cpp raises plain exceptions for input it rejects
            on_chunk({"error": {"code": 400, "message": str(err), "type": "invalid_request_error"}})
        finally:
            put(queue.put_nowait, _END)


def _llama_bodies(call: Call) -> list[dict[str, Any]]:
    """One llama.cpp request per choice: a list of prompts and `n` both fan out."""
    req = call.request
    body = {k: v for k, v in msgspec.to_builtins(req).items() if k not in _NOT_FORWARDED}
    if isinstance(req, chat.ChatCompletionRequest):
        _refuse_non_text(req, call.model)
        if req.max_completion_tokens is not None:
            body["max_tokens"] = req.max_completion_tokens
        prompts = [None]
    else:
        prompts = [req.prompt] if isinstance(req.prompt, str) or (req.prompt and isinstance(req.prompt[0], int)) else req.prompt
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
    n = req.n or 1
    bodies = []
    for prompt in prompts:
        for i in range(n):
            one = dict(body)
            if prompt is not None:
                one["prompt"] = prompt
            if req.seed is not None:
                one["seed"] = req.seed + i  # distinct choices, still reproducible
            bodies.append(one)
    return bodies


def _refuse_non_text(req: chat.ChatCompletionRequest, model: str) -> None:
    for i, message in enumerate(req.messages):
        if isinstance(message.content, list):
            for j, part in enumerate(message.content):
                if not isinstance(part, chat.TextPart | chat.RefusalPart):
                    raise errors.invalid_request(
                        f"Model `{model}` accepts text only; `{part.__struct_config__.tag}` content is not supported.",
                        param=f"messages[{i}].content[{j}]", code="unsupported_content")


def _llama_error(error: dict) -> errors.ApiError:
    status = error.get("code") if isinstance(error.get("code"), int) else 500
    message = str(error.get("message", "The local model failed."))
    if error.get("type") == "exceed_context_size_error":
        return errors.invalid_request(message, param="messages", code="context_length_exceeded")
    if status >= 500:
        return errors.ApiError(status, message, type="server_error")
    return errors.ApiError(status, message)


def _legacy_logprobs(content: list[dict]) -> completions.CompletionLogprobs:
    """The chat shape llama.cpp returns, as legacy completions' parallel lists."""
    out = completions.CompletionLogprobs()
    offset = 0
    for item in content:
        out.tokens.append(item["token"])
        out.token_logprobs.append(item["logprob"])
        out.top_logprobs.append({t["token"]: t["logprob"] for t in item.get("top_logprobs", ())} or None)
        out.text_offset.append(offset)
        offset += len(item["token"])
    return out


def _new_id(call: Call) -> str:
    prefix = "cmpl-" if call.endpoint == "completions" else "chatcmpl-"
    return prefix + secrets.token_urlsafe(21).replace("-", "x").replace("_", "y")


class _UsageSum:
    """Usage over all choices: each prompt counted once, every choice's completion counted."""

    def __init__(self, call: Call) -> None:
        self._per_prompt = call.request.n or 1
        self._prompt = 0
        self._completion = 0

    def add(self, usage: dict, index: int) -> None:
        if index % self._per_prompt == 0:  # choices index × n share one prompt
            self._prompt += usage.get("prompt_tokens", 0)
        self._completion += usage.get("completion_tokens", 0)

    def result(self) -> chat.Usage:
        return chat.Usage(prompt_tokens=self._prompt, completion_tokens=self._completion,
                          total_tokens=self._prompt + self._completion,
                          prompt_tokens_details=chat.PromptTokensDetails(),
                          completion_tokens_details=chat.CompletionTokensDetails())
