"""How well a local chat model drives a tool loop, as an agent would (provider level, no HTTP or bus).

    .venv/bin/python -m bench.tool_loop [--model ID] [--models config/models.toml]

Each case asks a question with three tools offered (`tool_choice` auto, temperature 0, no
`max_tokens`, as LangChain and the Agents SDK call). A case passes when the model calls the right
tool with the right arguments, and then, given the tool's result, answers in words that use it.
A question that needs no tool passes when it is answered in words.
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
# question, expected tool (None: words), expected arguments (values compared case-insensitively), the
# tool's result, a word the final answer must contain
CASES = [
    ("What is the weather in Paris?", "get_weather", {"city": "paris"}, '{"sky": "sunny", "celsius": 21}', "21"),
    ("What's the weather like in Tokyo right now?", "get_weather", {"city": "tokyo"}, '{"sky": "rain", "celsius": 12}', "12"),
    ("What time is it in Tokyo? Use the timezone Asia/Tokyo.", "get_time", {"timezone": "asia/tokyo"}, '{"time": "14:05"}', "14:05"),
    ("What time is it in New York (America/New_York)?", "get_time", {"timezone": "america/new_york"}, '{"time": "08:30"}', "8:30"),
    ("Use the add tool: what is 1234 + 4321?", "add", {"a": 1234, "b": 4321}, '{"sum": 5555}', "5555"),
    ("What is 17 plus 25? Use a tool.", "add", {"a": 17, "b": 25}, '{"sum": 42}', "42"),
    ("Say hello to me.", None, None, None, None),
    ("What is the capital of France? Answer in one word.", None, None, None, None),
]


async def ask(provider: LocalLlama, model: str, messages: list) -> dict:
    body = json.dumps({"model": model, "messages": messages, "tools": TOOLS, "temperature": 0}).encode()
    call = Call(endpoint="chat/completions", request=msgspec.json.decode(body, type=ChatCompletionRequest),
                raw=body, model=model, request_id="bench")
    return json.loads(await provider.create(call))


def same(args: dict, expected: dict) -> bool:
    return all(str(args.get(k, "")).lower() == str(v).lower() for k, v in expected.items())


async def run_case(provider, model, question, name, expected, result, word) -> tuple[bool, str, int]:
    messages = [{"role": "user", "content": question}]
    first = await ask(provider, model, messages)
    tokens = first["usage"]["completion_tokens"]
    message = first["choices"][0]["message"]
    calls = message.get("tool_calls") or []
    said = f"called {[(c['function']['name'], c['function']['arguments']) for c in calls]}, said {message.get('content')!r}"
    if name is None:
        return not calls and bool((message.get("content") or "").strip()), said, tokens
    if len(calls) != 1 or calls[0]["function"]["name"] != name:
        return False, said, tokens
    args = json.loads(calls[0]["function"]["arguments"])
    if not same(args, expected):
        return False, f"arguments {args}", tokens
    messages += [message, {"role": "tool", "tool_call_id": calls[0]["id"], "content": result}]
    second = await ask(provider, model, messages)
    tokens += second["usage"]["completion_tokens"]
    answer = second["choices"][0]["message"]
    text = answer.get("content") or ""
    again = [(c["function"]["name"], c["function"]["arguments"]) for c in answer.get("tool_calls") or []]
    return word in text and not again, f"{args} → {text[:80]!r}{f' and called {again}' if again else ''}", tokens


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
