"""Function calling on a local model that has no tool template, by constrained decoding.

Small models do not emit tool calls on their own, and llama.cpp ignores `tools` for templates without
tool support. So the tools are described in a system message and the answer is constrained by a JSON
schema: one object `{"name": <a tool>, "arguments": <its parameters>}` per call, or, when the model
may answer in words, `{"response": …}`. Whatever the model says then parses, names a real tool and
has arguments that validate against that tool's parameters: by construction, not by luck.
"""

import json
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from services.chat.providers.json_schemas import unsupported
from shared import errors
from shared.protocol import chat

_EMPTY_PARAMETERS = {"type": "object", "properties": {}}


@dataclass(slots=True)
class ToolPlan:
    schema: dict[str, Any]  # the whole answer's schema
    words_are_json: bool  # the `response` branch holds JSON (a response_format), not a string
    # A finished call ends with this: "tool_calls", but "stop" when `tool_choice` named the function
    # (what OpenAI sends then).
    call_finish: str = "tool_calls"


def plan_for(req: chat.ChatCompletionRequest, response_schema: dict | None) -> ToolPlan | None:
    """How to answer `req` with tools; None when no tool may be called."""
    if not req.tools or req.tool_choice == "none":
        return None
    tools = {tool.function.name: tool for tool in req.tools}
    for i, tool in enumerate(req.tools):
        if problem := unsupported(tool.function.parameters or _EMPTY_PARAMETERS):
            raise errors.invalid_request(f"Tool `{tool.function.name}` parameters: {problem}.",
                                         param=f"tools[{i}].function.parameters", code="unsupported_schema")
    choice = req.tool_choice
    words = True
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        if choice.get("type") != "function" or name not in tools:
            raise errors.invalid_request(f"tool_choice names no tool of this request: {name!r}.", param="tool_choice")
        tools, words = {name: tools[name]}, False
    elif choice == "required":
        words = False
    elif choice not in (None, "auto"):
        raise errors.invalid_request(f"Invalid tool_choice: {choice!r}; expected none, auto, required or a "
                                     "named function.", param="tool_choice")
    branches = [{"type": "object", "properties": {"name": {"const": name},
                                                  "arguments": tool.function.parameters or _EMPTY_PARAMETERS},
                 "required": ["name", "arguments"], "additionalProperties": False} for name, tool in tools.items()]
    if words:
        branches.append({"type": "object", "properties": {"response": response_schema or {"type": "string"}},
                         "required": ["response"], "additionalProperties": False})
    schema = branches[0] if len(branches) == 1 else {"anyOf": branches}
    return ToolPlan(schema=schema, words_are_json=response_schema is not None,
                    call_finish="stop" if isinstance(choice, dict) else "tool_calls")


def system_prompt(req: chat.ChatCompletionRequest, plan: ToolPlan) -> str:
    """The tools in the Hermes/Qwen style many small models were trained on, with our answer shape."""
    words = "anyOf" in plan.schema and any("response" in b["properties"] for b in plan.schema["anyOf"])
    tools = "\n".join(json.dumps({"type": "function", "function": {
        "name": t.function.name, "description": t.function.description or "",
        "parameters": t.function.parameters or _EMPTY_PARAMETERS}}) for t in req.tools)
    lines = ["# Tools", "", "You may call functions to assist with the user query.", "",
             "You are provided with function signatures within <tools></tools> XML tags:",
             f"<tools>\n{tools}\n</tools>", "",
             "For a function call, return a JSON object with the function name and arguments: "
             '{"name": <function-name>, "arguments": <args-json-object>}']
    if words:
        lines.append("If no function call is needed, or the results you need are in <tool_response> already, "
                     'answer the user with a JSON object {"response": <your answer>}')
    return "\n".join(lines)


def llama_messages(req: chat.ChatCompletionRequest, plan: ToolPlan | None) -> list[dict]:
    """The conversation in roles every chat template knows: past calls and results become text."""
    names = {}
    out: list[dict] = [{"role": "system", "content": system_prompt(req, plan)}] if plan else []
    for message in req.messages:
        match message:
            case chat.AssistantMessage(tool_calls=calls) if calls:
                for call in calls:
                    names[call.id] = call.function.name
                text = "\n".join(json.dumps({"name": c.function.name, "arguments": _loads(c.function.arguments)})
                                 for c in calls)
                out.append({"role": "assistant", "content": text})
            case chat.ToolMessage():
                name = names.get(message.tool_call_id, "the function")
                out.append({"role": "user", "content": f"<tool_response name={json.dumps(name)}>\n"
                                                       f"{text_of(message.content)}\n</tool_response>"})
            case chat.DeveloperMessage():
                out.append({"role": "system", "content": text_of(message.content)})
            case chat.FunctionMessage():
                out.append({"role": "user", "content": f"<tool_response name={json.dumps(message.name)}>\n"
                                                       f"{message.content or ''}\n</tool_response>"})
            case _:
                out.append({"role": message.__struct_config__.tag, "content": text_of(message.content) or ""})
    return out


def text_of(content) -> str | None:
    if content is None or isinstance(content, str):
        return content
    return "".join(getattr(part, "text", None) or getattr(part, "refusal", "") for part in content)


def _loads(arguments: str) -> Any:
    try:
        return json.loads(arguments)
    except ValueError:
        return arguments


def new_call_id() -> str:
    return "call_" + secrets.token_urlsafe(18).replace("-", "x").replace("_", "y")


def finish(plan: ToolPlan, text: str, finish_reason: str) -> tuple[str | None, list[chat.ToolCall] | None, str]:
    """A whole answer as (content, tool_calls, finish_reason)."""
    try:
        answer = json.loads(text)
    except ValueError:  # cut off by max_tokens: give what there is, as OpenAI does
        return text, None, finish_reason
    if "response" in answer:
        words = answer["response"]
        return (json.dumps(words) if plan.words_are_json else words), None, finish_reason
    call = chat.ToolCall(id=new_call_id(), function=chat.FunctionCall(
        name=answer["name"], arguments=json.dumps(answer["arguments"])))
    return None, [call], plan.call_finish if finish_reason == "stop" else finish_reason


_CALL_HEAD = re.compile(r'\s*\{\s*"name"\s*:\s*"((?:[^"\\]|\\.)*)"\s*,\s*"arguments"\s*:\s*', re.S)
_WORDS_HEAD = re.compile(r'\s*\{\s*"response"\s*:\s*', re.S)
_TAIL = re.compile(r"\s*\}?\s*$")  # what may be the closing brace of the outer object


@dataclass(slots=True)
class StreamParser:
    """Turns the constrained JSON, token by token, into OpenAI deltas: for a call, first a delta with
    index, id, type and name, then argument fragments; for words, content as it comes."""

    plan: ToolPlan
    text: str = ""
    mode: str = ""  # "", "call" or "words"
    head: int = 0  # where the payload (arguments, or the words' JSON string) starts in `text`
    sent: int = 0  # call: index into `text` sent up to; words: decoded characters sent
    call_id: str = field(default_factory=new_call_id)

    def feed(self, piece: str) -> list[chat.ChoiceDelta]:
        self.text += piece
        deltas = []
        if not self.mode:
            if m := _CALL_HEAD.match(self.text):
                self.mode, self.head, self.sent = "call", m.end(), m.end()
                deltas.append(chat.ChoiceDelta(tool_calls=[chat.ToolCallDelta(
                    index=0, id=self.call_id, type="function",
                    function=chat.ToolCallFunctionDelta(name=json.loads(f'"{m[1]}"'), arguments=""))]))
            elif m := _WORDS_HEAD.match(self.text):
                self.mode, self.head = "words", m.end()
        if self.mode == "call":
            while self.sent == self.head < len(self.text) and self.text[self.head].isspace():
                self.sent = self.head = self.head + 1  # arguments start at their `{`
            # Hold back what may be the outer object's closing brace.
            end = _TAIL.search(self.text, self.sent).start()
            if end > self.sent:
                deltas.append(_arguments(self.text[self.sent:end]))
                self.sent = end
        elif self.mode == "words" and not self.plan.words_are_json:
            deltas.extend(self._words())
        return deltas

    def end(self, finish_reason: str) -> tuple[list[chat.ChoiceDelta], str]:
        """Whatever is left to send, and the finish_reason of the whole answer."""
        if self.mode == "call":
            if finish_reason == "stop":  # all but the outer closing brace was sent
                return [], self.plan.call_finish
            rest = self.text[self.sent:]
            return ([_arguments(rest)] if rest else []), finish_reason
        if self.mode == "words" and not self.plan.words_are_json:
            return self._words(), finish_reason
        content, _, _ = finish(self.plan, self.text, finish_reason)
        return ([chat.ChoiceDelta(content=content)] if content else []), finish_reason

    def _words(self) -> list[chat.ChoiceDelta]:
        body = self.text[self.head:].lstrip()
        if not body.startswith('"'):
            return []
        decoded = _decode_prefix(body[1:])
        if len(decoded) <= self.sent:
            return []
        piece, self.sent = decoded[self.sent:], len(decoded)
        return [chat.ChoiceDelta(content=piece)]


def _arguments(fragment: str) -> chat.ChoiceDelta:
    return chat.ChoiceDelta(tool_calls=[chat.ToolCallDelta(index=0, function=chat.ToolCallFunctionDelta(arguments=fragment))])


_SAFE_END = re.compile(r'(?:\\u[0-9a-fA-F]{0,3}|\\u[dD][89abAB][0-9a-fA-F]{2}|\\)$')


def _decode_prefix(body: str) -> str:
    """The JSON string body seen so far, decoded up to its closing quote or to the last whole escape."""
    i, out_end = 0, len(body)
    while i < len(body):
        if body[i] == "\\":
            i += 2
            continue
        if body[i] == '"':
            out_end = i
            break
        i += 1
    prefix = body[:out_end]
    while (m := _SAFE_END.search(prefix)) and m.group():
        prefix = prefix[: m.start()]
    try:
        return json.loads(f'"{prefix}"')
    except ValueError:
        return ""
