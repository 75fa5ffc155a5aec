"""A GGUF model run in-process by llama.cpp (the `xllamacpp` wheel).

The model loads once per process. llama.cpp decodes up to `parallel` requests together on its own
thread; each call waits in a worker thread of ours and hands chunks to the event loop. Every call
streams internally, because only a streaming call can be stopped midway (the chunk callback
returns True to stop).
"""

import asyncio
import os
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

from opentelemetry.trace import Tracer

from services.chat.providers.base import Call
from services.chat.providers.gguf_vocab import vocab_size
from services.chat.providers.local_answers import Collected, Relayed
from services.chat.providers.local_loops import LoopGuard
from services.chat.providers.local_requests import Prepared, prepare
from shared import errors, model_parts
from shared.modelconfig import LocalModel

# llama.cpp's OpenMP threads spin while idle unless told otherwise, and spinning threads starve
# everything else on a small machine (generation fell to a few tokens/s in our measurements).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

_END = object()


class LocalLlama:
    def __init__(self, entry: LocalModel, *, tracer: Tracer | None = None, adapter: str | None = None) -> None:
        self._entry = entry
        self._adapter = adapter  # a GGUF LoRA adapter applied over the model (a fine-tuned model)
        self._server = None
        self._vocab_size = 0
        self._pool = ThreadPoolExecutor(max_workers=64, thread_name_prefix=f"llama-{entry.id}")

    async def start(self) -> None:
        self._server = await asyncio.get_running_loop().run_in_executor(self._pool, self._load)

    def _load(self):
        import xllamacpp

        if self._entry.parts:
            model_parts.joined(self._entry.path, self._entry.parts, self._entry.sha256)
        if not os.path.isfile(self._entry.path):
            raise SystemExit(f"model {self._entry.id}: no GGUF file at {self._entry.path}")
        self._vocab_size = vocab_size(self._entry.path)  # logit_bias keys and prompt token ids are checked against it

        params = xllamacpp.CommonParams()
        params.model.path = self._entry.path
        params.n_ctx = self._entry.context_length
        params.n_parallel = self._entry.parallel
        params.cpuparams.n_threads = self._entry.threads
        params.cpuparams_batch.n_threads = self._entry.threads
        params.verbosity = 0
        params.cache_ram_mib = 0  # the prompt cache grows without bound otherwise
        params.model_alias = {self._entry.id}
        if self._adapter is not None:
            params.lora_adapters = [xllamacpp.CommonAdapterLoraInfo(self._adapter, 1.0)]
        return xllamacpp.Server(params)

    async def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._server = None

    # ------------------------------------------------------------------ answers

    async def create(self, call: Call) -> bytes:
        prepared = prepare(call, vocab_size=self._vocab_size)
        answer = Collected(call, prepared)
        async for index, chunk in self._generations(call, prepared):
            answer.add(index, chunk)
        return answer.encode()

    async def stream(self, call: Call) -> AsyncIterator[bytes]:
        prepared = prepare(call, vocab_size=self._vocab_size)
        answer = Relayed(call, prepared)
        async for index, chunk in self._generations(call, prepared):
            for out in answer.chunks(index, chunk):
                yield out
        for out in answer.final():
            yield out

    # ------------------------------------------------------------------ generation

    async def _generations(self, call: Call, prepared: Prepared) -> AsyncIterator[tuple[int, dict]]:
        """Run every choice the request asks for (prompts × n) and yield `(choice index, chunk)`."""
        if self._server is None:
            raise errors.service_unavailable("local model")
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        futures = [loop.run_in_executor(self._pool, self._run, call, body, index, queue, loop)
                   for index, body in enumerate(prepared.bodies)]
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
        legacy = call.endpoint == "completions"
        guard = LoopGuard(self._entry.loop_min_tokens, self._entry.loop_max_period) if self._entry.loop_min_tokens else None
        timings: dict = {}
        ended = False

        def on_chunk(chunk: dict) -> bool:
            nonlocal timings, ended
            if ended:
                return True
            timings = chunk.pop("timings", None) or timings
            put(queue.put_nowait, (index, chunk))
            if guard is not None and any(guard.looping(piece) for piece in _pieces(chunk, legacy)):
                ended = True  # a repetition loop: end it as max_tokens would
                for end in _length_end(timings, legacy):
                    put(queue.put_nowait, (index, end))
                return True
            return call.cancelled.is_set()

        try:
            if call.cancelled.is_set():
                return
            handle = self._server.handle_completions if legacy else self._server.handle_chat_completions
            result = handle(body, on_chunk)
            if isinstance(result, dict) and "error" in result:
                on_chunk(result)
        except Exception as err:  # llama.cpp raises plain exceptions for input it rejects
            on_chunk({"error": {"code": 400, "message": str(err), "type": "invalid_request_error"}})
        finally:
            put(queue.put_nowait, _END)


def _pieces(chunk: dict, legacy: bool) -> list[str]:
    """The tokens a chunk adds (llama.cpp streams one token a chunk, a few where UTF-8 needs them)."""
    out = []
    for choice in chunk.get("choices", ()):
        piece = choice.get("text") if legacy else (choice.get("delta") or {}).get("content")
        if piece:
            out.append(piece)
    return out


def _length_end(timings: dict, legacy: bool) -> list[dict]:
    """What llama.cpp sends when `max_tokens` is hit: the finishing chunk, then usage (from the
    per-token timings, since a stopped generation sends no usage of its own)."""
    finish = {"index": 0, "finish_reason": "length", **({"text": ""} if legacy else {"delta": {}})}
    prompt = timings.get("prompt_n", 0) + timings.get("cache_n", 0)
    completion = timings.get("predicted_n", 0)
    usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
    return [{"choices": [finish]}, {"choices": [], "usage": usage}]


def _llama_error(error: dict) -> errors.ApiError:
    status = error.get("code") if isinstance(error.get("code"), int) else 500
    message = str(error.get("message", "The local model failed."))
    if error.get("type") == "exceed_context_size_error":
        return errors.invalid_request(message, param="messages", code="context_length_exceeded")
    if status >= 500:
        return errors.ApiError(status, message, type="server_error")
    return errors.ApiError(status, message)
