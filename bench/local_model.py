"""Speed of the local chat model as the chat service runs it (provider level, no HTTP or bus).

    .venv/bin/python bench/local_model.py [--tokens 200] [--models config/models.toml]

Prints time to first token and generation tokens/s for one stream, then for two at once.
"""

import argparse
import asyncio
import json
import time

import msgspec

from services.chat.providers.base import Call
from services.chat.providers.local_llama import LocalLlama
from shared import modelconfig
from shared.protocol.chat import ChatCompletionRequest

PROMPT = "Write a detailed story about a lighthouse keeper who finds a message in a bottle."


async def one_stream(provider: LocalLlama, model: str, tokens: int) -> tuple[float, float, int]:
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": PROMPT}], "max_tokens": tokens,
                       "stream": True, "temperature": 0, "stream_options": {"include_usage": True}}).encode()
    call = Call(endpoint="chat/completions", request=msgspec.json.decode(body, type=ChatCompletionRequest),
                raw=body, model=model, request_id="bench")
    started = time.perf_counter()
    first = None
    usage = None
    async for chunk in provider.stream(call):
        data = json.loads(chunk)
        if first is None and data["choices"] and data["choices"][0]["delta"].get("content"):
            first = time.perf_counter()
        usage = data.get("usage") or usage
    ended = time.perf_counter()
    generated = usage["completion_tokens"]
    return first - started, (generated - 1) / (ended - first), generated


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--models", default=None)
    args = parser.parse_args()
    entry = next(e for e in modelconfig.load(args.models).models if isinstance(e, modelconfig.LocalModel))
    provider = LocalLlama(entry)
    loaded = time.perf_counter()
    await provider.start()
    print(f"model {entry.id}: loaded in {time.perf_counter() - loaded:.2f} s, threads={entry.threads}")
    await one_stream(provider, entry.id, 8)  # warm-up
    ttft, rate, n = await one_stream(provider, entry.id, args.tokens)
    print(f"1 stream : first token {ttft * 1000:.0f} ms, {rate:.1f} tokens/s ({n} tokens)")
    started = time.perf_counter()
    both = await asyncio.gather(*(one_stream(provider, entry.id, args.tokens) for _ in range(2)))
    total = sum(n for *_, n in both)
    print(f"2 streams: {total / (time.perf_counter() - started):.1f} tokens/s together "
          f"({', '.join(f'{r:.1f}' for _, r, _ in both)} each)")
    await provider.close()


if __name__ == "__main__":
    asyncio.run(main())
