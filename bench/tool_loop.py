"""How well a local chat model drives a tool loop, as an agent would (provider level, no HTTP or bus).

    .venv/bin/python -m bench.tool_loop [--model ID] [--models config/models.toml]

Each case asks a question with three tools offered (`tool_choice` auto, temperature 0, no
`max_tokens`, as LangChain and the Agents SDK call). A case passes when the model calls the right
tools with the right arguments (and no others), and then, given their results, answers in words that
use them.
A question that needs no tool passes when it is answered in words. Like an agent, the bench runs
the calls the model makes (all of a turn's, several turns if the model calls one tool at a time)
until it answers in words.
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


def tool(name: str, description: str, properties: dict) -> dict:
    return {"type": "function", "function": {"name": name, "description": description, "parameters": {
        "type": "object", "properties": properties, "required": list(properties)}}}


TOOLS = [
    tool("get_weather", "Get the current weather in a city.", {"city": {"type": "string"}}),
    tool("get_time", "Get the current time in an IANA timezone such as Europe/Paris.", {"timezone": {"type": "string"}}),
    tool("add", "Add two integers.", {"a": {"type": "integer"}, "b": {"type": "integer"}}),
]
# question, the calls expected (name, arguments compared case-insensitively; None: an answer in
# words), the tools' results, a word the final answer must contain
CASES = [
    ("What is the weather in Paris?", [("get_weather", {"city": "paris"})], ['{"sky": "sunny", "celsius": 21}'], "21"),
    ("What's the weather like in Tokyo right now?", [("get_weather", {"city": "tokyo"})],
     ['{"sky": "rain", "celsius": 12}'], "12"),
    ("What time is it in Tokyo? Use the timezone Asia/Tokyo.", [("get_time", {"timezone": "asia/tokyo"})],
     ['{"time": "14:05"}'], "14:05"),
    ("What time is it in New York (America/New_York)?", [("get_time", {"timezone": "america/new_york"})],
     ['{"time": "08:30"}'], "8:30"),
    ("Use the add tool: what is 1234 + 4321?", [("add", {"a": 1234, "b": 4321})], ['{"sum": 5555}'], "5555"),
    ("What is 17 plus 25? Use a tool.", [("add", {"a": 17, "b": 25})], ['{"sum": 42}'], "42"),
    ("What is the weather in Paris and in Tokyo?", [("get_weather", {"city": "paris"}), ("get_weather", {"city": "tokyo"})],
     ['{"sky": "sunny", "celsius": 21}', '{"sky": "rain", "celsius": 12}'], "12"),
    ("Say hello to me.", None, None, None),
    ("What is the capital of France? Answer in one word.", None, None, None),
]


async def ask(provider: LocalLlama, model: str, messages: list) -> dict:
    body = json.dumps({"model": model, "messages": messages, "tools": TOOLS, "temperature": 0}).encode()
    call = Call(endpoint="chat/completions", request=msgspec.json.decode(body, type=ChatCompletionRequest),
                raw=body, model=model, request_id="bench")
    return json.loads(await provider.create(call))


def same(args: dict, expected: dict) -> bool:
    return all(str(args.get(k, "")).lower() == str(v).lower() for k, v in expected.items())


async def run_case(provider, model, question, expected, results, word) -> tuple[bool, str, int]:
    """An agent's loop: call the tools the model asks for, until it answers in words (4 turns at most)."""
    messages = [{"role": "user", "content": question}]
    made, tokens = [], 0
    for _ in range(4):
        answer = await ask(provider, model, messages)
        tokens += answer["usage"]["completion_tokens"]
        message = answer["choices"][0]["message"]
        calls = message.get("tool_calls") or []
        if not calls:
            break
        messages.append(message)
        for call in calls:
            name, args = call["function"]["name"], json.loads(call["function"]["arguments"])
            made.append((name, args))
            result = next((r for (n, a), r in zip(expected or [], results or []) if n == name and same(args, a)),
                          '{"error": "no such data"}')
            messages.append({"role": "tool", "tool_call_id": call["id"], "content": result})
    text = message.get("content") or ""
    what = f"called {made}, said {text[:80]!r}"
    if expected is None:
        return not made and bool(text.strip()), what, tokens
    wanted = all(any(n == en and same(a, ea) for n, a in made) for en, ea in expected)
    return wanted and len(made) == len(expected) and word in text and not calls, what, tokens


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=None)
    parser.add_argument("--models", default=None)
    args = parser.parse_args()
    entry = next(e for e in modelconfig.load(args.models).models
                 if isinstance(e, modelconfig.LocalModel) and args.model in (None, e.id))
    provider = LocalLlama(entry)
    await provider.start()
    passed, started, tokens = 0, time.perf_counter(), 0
    for case in CASES:
        t = time.perf_counter()
        ok, what, n = await run_case(provider, entry.id, *case)
        passed += ok
        tokens += n
        print(f"{'PASS' if ok else 'FAIL'} {time.perf_counter() - t:5.1f} s {n:4d} tok  {case[0]!r}: {what}")
    print(f"model {entry.id}: {passed}/{len(CASES)} tool-loop cases passed in {time.perf_counter() - started:.0f} s "
          f"({tokens} tokens generated)")
    await provider.close()


if __name__ == "__main__":
    asyncio.run(main())
