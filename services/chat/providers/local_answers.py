"""From llama.cpp's chunks to OpenAI's answers: whole (`Collected`) or streamed (`Relayed`).

llama.cpp already speaks OpenAI's shapes; what is ours is choice indexes across the separate
generations, usage over all of them, the legacy logprobs shape, and tool calls made from the
constrained JSON.
"""

import secrets
import time

import msgspec

from services.chat.providers import local_tools
from services.chat.providers.base import Call
from services.chat.providers.local_requests import Prepared
from shared.protocol import chat, completions

FINGERPRINT = "fp_vivian_llamacpp"
_encode = msgspec.json.Encoder().encode


class _Answer:
    def __init__(self, call: Call, prepared: Prepared) -> None:
        self.call = call
        self.tools = prepared.tools
        self.legacy = call.endpoint == "completions"
        prefix = "cmpl-" if self.legacy else "chatcmpl-"
        self.id = prefix + secrets.token_urlsafe(21).replace("-", "x").replace("_", "y")
        self.created = int(time.time())
        self.per_prompt = call.request.n or 1
        self.prompt_tokens = 0
        self.completion_tokens = 0

    def count(self, index: int, chunk: dict) -> None:
        """Usage over all choices: each prompt counted once, every choice's completion counted."""
        if usage := chunk.get("usage"):
            if index % self.per_prompt == 0:  # choices index × n share one prompt
                self.prompt_tokens += usage.get("prompt_tokens", 0)
            self.completion_tokens += usage.get("completion_tokens", 0)

    def usage(self) -> chat.Usage:
        return chat.Usage(prompt_tokens=self.prompt_tokens, completion_tokens=self.completion_tokens,
                          total_tokens=self.prompt_tokens + self.completion_tokens,
                          prompt_tokens_details=chat.PromptTokensDetails(),
                          completion_tokens_details=chat.CompletionTokensDetails())

    def envelope(self, kind, choices: list, usage=msgspec.UNSET):
        return kind(id=self.id, created=self.created, model=self.call.model, system_fingerprint=FINGERPRINT,
                    choices=choices, usage=usage)


class Collected(_Answer):
    """Collects every chunk of every choice into one `chat.completion` or `text_completion`."""

    def __init__(self, call: Call, prepared: Prepared) -> None:
        super().__init__(call, prepared)
        self.texts: dict[int, list[str]] = {i: [] for i in range(len(prepared.bodies))}
        self.finish: dict[int, str] = {}
        self.logprobs: dict[int, list] = {}

    def add(self, index: int, chunk: dict) -> None:
        self.count(index, chunk)
        for choice in chunk.get("choices", ()):
            piece = choice.get("text") if self.legacy else (choice.get("delta") or {}).get("content")
            self.texts[index].append(piece or "")
            if choice.get("finish_reason"):
                self.finish[index] = choice["finish_reason"]
            if (choice.get("logprobs") or {}).get("content"):
                self.logprobs.setdefault(index, []).extend(choice["logprobs"]["content"])

    def encode(self) -> bytes:
        if self.legacy:
            choices = [completions.CompletionChoice(
                index=i, text="".join(texts), finish_reason=self.finish.get(i, "stop"),
                logprobs=legacy_logprobs(self.logprobs[i]) if i in self.logprobs else None)
                for i, texts in self.texts.items()]
            return _encode(self.envelope(completions.Completion, choices, self.usage()))
        return _encode(self.envelope(chat.ChatCompletion, [self._choice(i) for i in self.texts], self.usage()))

    def _choice(self, i: int) -> chat.Choice:
        text, finish = "".join(self.texts[i]), self.finish.get(i, "stop")
        calls = None
        if self.tools is not None:
            text, calls, finish = local_tools.finish(self.tools, text, finish)
        logprobs = None
        if i in self.logprobs and self.tools is None:
            logprobs = msgspec.convert({"content": self.logprobs[i]}, chat.ChoiceLogprobs)
        message = chat.ChatCompletionMessage(role="assistant", content=text, refusal=None, tool_calls=calls)
        return chat.Choice(index=i, message=message, finish_reason=finish, logprobs=logprobs)


class Relayed(_Answer):
    """Turns each llama.cpp chunk into the OpenAI chunks to send now."""

    def __init__(self, call: Call, prepared: Prepared) -> None:
        super().__init__(call, prepared)
        options = call.request.stream_options
        self.include_usage = options is not None and bool(options.include_usage)
        self.parsers = ({i: local_tools.StreamParser(prepared.tools) for i in range(len(prepared.bodies))}
                        if prepared.tools is not None else None)

    def chunks(self, index: int, chunk: dict) -> list[bytes]:
        self.count(index, chunk)
        choices = chunk.get("choices")
        if not choices:
            return []
        if self.legacy:
            return [self._chunk([self._legacy(index, c) for c in choices])]
        if self.parsers is None:
            for choice in choices:
                choice["index"] = index
            return [self._chunk(msgspec.convert(choices, list[chat.ChunkChoice]))]
        return [self._chunk([c]) for c in self._tool_choices(index, choices)]

    def final(self) -> list[bytes]:
        """The usage chunk, when the client asked for it."""
        if not self.include_usage:
            return []
        kind = completions.Completion if self.legacy else chat.ChatCompletionChunk
        return [_encode(self.envelope(kind, [], self.usage()))]

    def _chunk(self, choices: list) -> bytes:
        """One chunk. A chat chunk has `"usage": null` when the last chunk will carry usage, as OpenAI
        documents it; its schema for legacy completions has no null usage, so there it is left out."""
        if self.legacy:
            return _encode(self.envelope(completions.Completion, choices))
        return _encode(self.envelope(chat.ChatCompletionChunk, choices, None if self.include_usage else msgspec.UNSET))

    def _legacy(self, index: int, choice: dict) -> completions.CompletionChoice:
        content = (choice.get("logprobs") or {}).get("content")
        return completions.CompletionChoice(index=index, text=choice.get("text") or "",
                                            finish_reason=choice.get("finish_reason"),
                                            logprobs=legacy_logprobs(content) if content is not None else None)

    def _tool_choices(self, index: int, choices: list[dict]) -> list[chat.ChunkChoice]:
        parser = self.parsers[index]
        out = []
        for choice in choices:
            delta = choice.get("delta") or {}
            if delta.get("role"):
                out.append(chat.ChunkChoice(index=index, delta=chat.ChoiceDelta(role="assistant")))
            if delta.get("content"):
                out.extend(chat.ChunkChoice(index=index, delta=d) for d in parser.feed(delta["content"]))
            if finish := choice.get("finish_reason"):
                rest, finish = parser.end(finish)
                out.extend(chat.ChunkChoice(index=index, delta=d) for d in rest)
                out.append(chat.ChunkChoice(index=index, delta=chat.ChoiceDelta(), finish_reason=finish))
        return out


def legacy_logprobs(content: list[dict]) -> completions.CompletionLogprobs:
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
