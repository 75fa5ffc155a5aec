"""Function calling on a local model that has no tool template, by constrained decoding.

Small models do not emit tool calls on their own, and llama.cpp ignores `tools` for templates without
tool support. So the tools are described in a system message and the answer is constrained by a JSON
schema: one object `{"name": <a tool>, "arguments": <its parameters>}` per call (with
`parallel_tool_calls`, also a JSON array of them), or, when the model may answer in words,
`{"response": …}`. The tools are listed, and results given back, in the Hermes/Qwen style
(`<tools>`, `<tool_response>`) that many small models were trained on. Whatever the model says then parses, names a real tool and
has arguments that validate against that tool's parameters: by construction, not by luck.
"""

import json
import re
import secrets
from dataclasses import dataclass
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
    words: bool = True  # the model may answer in words (`tool_choice` auto)
    parallel: bool = False  # several calls may come at once, as a JSON array of calls


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
    match choice:
        case chat.NamedToolChoice(function=tool) if tool.name in tools:
            tools = {tool.name: tools[tool.name]}
        case chat.NamedToolChoice(function=tool) | chat.NamedToolChoiceCustom(custom=tool):
            # (a custom tool is none of them: this request's tools are functions)
            raise errors.invalid_request(f"tool_choice names no tool of this request: {tool.name!r}.",
                                         param="tool_choice")
        case chat.AllowedToolsChoice():
            raise errors.invalid_request("tool_choice of type 'allowed_tools' is not supported by this model; "
                                         "expected none, auto, required or a named function.", param="tool_choice")
    named = isinstance(choice, chat.NamedToolChoice)
    words = choice in (None, "auto")  # "required" or a named function: a call
    calls = [{"type": "object", "properties": {"name": {"const": name},
                                               "arguments": tool.function.parameters or _EMPTY_PARAMETERS},
              "required": ["name", "arguments"], "additionalProperties": False} for name, tool in tools.items()]
    branches = list(calls)
    # OpenAI's default: several calls in one turn. A call named by tool_choice is made once.
    parallel = req.parallel_tool_calls is not False and not named
    if parallel:
        branches.append({"type": "array", "items": calls[0] if len(calls) == 1 else {"anyOf": calls}, "minItems": 1})
    if words:
        branches.append({"type": "object", "properties": {"response": response_schema or {"type": "string"}},
                         "required": ["response"], "additionalProperties": False})
    schema = branches[0] if len(branches) == 1 else {"anyOf": branches}
    return ToolPlan(schema=schema, words_are_json=response_schema is not None, words=words, parallel=parallel,
                    call_finish="stop" if named else "tool_calls")


def system_prompt(req: chat.ChatCompletionRequest, plan: ToolPlan) -> str:
    """The tools in the Hermes/Qwen style many small models were trained on, with our answer shape."""
    tools = "\n".join(json.dumps({"type": "function", "function": {
        "name": t.function.name, "description": t.function.description or "",
        "parameters": t.function.parameters or _EMPTY_PARAMETERS}}) for t in req.tools)
    # Several calls at once (a JSON array of call objects) are allowed by the schema when
    # parallel_tool_calls is on, but not advertised: saying so made Qwen2.5-Coder-0.5B pick worse
    # (bench/tool_loop.py: 4-5 of 9 cases against 7).
    lines = ["# Tools", "", "You may call functions to assist with the user query.", "",
             "You are provided with function signatures within <tools></tools> XML tags:",
             f"<tools>\n{tools}\n</tools>", "",
             "For a function call, return a JSON object with the function name and arguments: "
             '{"name": <function-name>, "arguments": <args-json-object>}']
    if plan.words:
        lines.append("If no function call is needed, or the results you need are in <tool_response> already, "
                     'answer the user with a JSON object {"response": <your answer>}')
    return "\n".join(lines)


def llama_messages(req: chat.ChatCompletionRequest, plan: ToolPlan | None) -> list[chat.Message]:
    """The conversation in roles every chat template knows: past calls and results become text."""
    names = {}
    out: list[chat.Message] = [chat.SystemMessage(content=system_prompt(req, plan))] if plan else []
    for message in req.messages:
        match message:
            case chat.AssistantMessage(tool_calls=calls) if calls:
                for call in calls:
                    names[call.id] = call.function.name
                shown = [{"name": c.function.name, "arguments": _loads(c.function.arguments)} for c in calls]
                text = json.dumps(shown[0] if len(shown) == 1 else shown)  # as the model is asked to answer
                out.append(chat.AssistantMessage(content=text))
            case chat.ToolMessage():
                name = names.get(message.tool_call_id, "the function")
                out.append(chat.UserMessage(content=f"<tool_response name={json.dumps(name)}>\n"
                                                    f"{text_of(message.content)}\n</tool_response>"))
            case chat.DeveloperMessage():
                out.append(chat.SystemMessage(content=text_of(message.content)))
            case chat.FunctionMessage():
                out.append(chat.UserMessage(content=f"<tool_response name={json.dumps(message.name)}>\n"
                                                    f"{message.content or ''}\n</tool_response>"))
            case _:  # system, user, assistant: their text only
                out.append(type(message)(content=text_of(message.content) or ""))
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
        if (m := _WORDS_HEAD.match(text)) and not plan.words_are_json and text[m.end():].startswith('"'):
            return _decode_prefix(text[m.end() + 1:]), None, finish_reason  # the words so far
        return text, None, finish_reason
    if isinstance(answer, dict) and "response" in answer:
        words = answer["response"]
        return (json.dumps(words) if plan.words_are_json else words), None, finish_reason
    calls = [chat.ToolCall(id=new_call_id(), function=chat.FunctionCall(
        name=one["name"], arguments=json.dumps(one["arguments"]))) for one in (answer if isinstance(answer, list) else [answer])]
    return None, calls, plan.call_finish if finish_reason == "stop" else finish_reason


_CALL_HEAD = re.compile(r'\s*\{\s*"name"\s*:\s*"((?:[^"\\]|\\.)*)"\s*,\s*"arguments"\s*:\s*', re.S)
_WORDS_HEAD = re.compile(r'\s*\{\s*"response"\s*:\s*', re.S)


@dataclass(slots=True)
class StreamParser:
    """Turns the constrained JSON, token by token, into OpenAI deltas: for each call (one object, or
    each object of an array of calls), first a delta with its index, id, type and name, then argument
    fragments; for words, content as it comes.

    A small JSON scanner follows nesting and strings, so a call's arguments end exactly where its
    object closes."""

    plan: ToolPlan
    text: str = ""
    mode: str = ""  # "", "calls" (one object or an array of them) or "words"
    base: int = 0  # the nesting depth at which call objects open: 0 alone, 1 inside an array
    depth: int = 0
    in_string: bool = False
    escaped: bool = False
    scanned: int = 0  # `text` up to here has been scanned
    opened: int = -1  # where the current call object starts in `text`; -1 between calls
    head: int = -1  # where its arguments start, once its name is known; -1 before
    sent: int = 0  # arguments sent up to here (call) or decoded characters sent (words)
    calls: int = 0  # calls started so far: the next call's index

    def feed(self, piece: str) -> list[chat.ChoiceDelta]:
        self.text += piece
        if not self.mode:
            start = self.text.lstrip()[:1]
            if start == "[":
                self.mode, self.base = "calls", 1
            elif _WORDS_HEAD.match(self.text):
                self.mode, self.head = "words", _WORDS_HEAD.match(self.text).end()
            elif _CALL_HEAD.match(self.text):
                self.mode = "calls"
        if self.mode == "calls":
            return self._scan()
        if self.mode == "words" and not self.plan.words_are_json:
            return self._words()
        return []

    def end(self, finish_reason: str) -> tuple[list[chat.ChoiceDelta], str]:
        """Whatever is left to send, and the finish_reason of the whole answer."""
        if self.mode == "calls":
            if finish_reason == "stop":  # every call's object closed, and was sent
                return [], self.plan.call_finish
            rest = self.text[self.sent:] if self.head >= 0 else ""
            return ([_arguments(self.calls - 1, rest)] if rest else []), finish_reason
        if self.mode == "words" and not self.plan.words_are_json:
            return self._words(), finish_reason
        content, _, _ = finish(self.plan, self.text, finish_reason)
        return ([chat.ChoiceDelta(content=content)] if content else []), finish_reason

    def _scan(self) -> list[chat.ChoiceDelta]:
        deltas = []
        text = self.text
        for i in range(self.scanned, len(text)):
            ch = text[i]
            if self.in_string:
                if self.escaped:
                    self.escaped = False
                elif ch == "\\":
                    self.escaped = True
                elif ch == '"':
                    self.in_string = False
            elif ch == '"':
                self.in_string = True
            elif ch in "{[":
                if ch == "{" and self.depth == self.base:
                    self.opened, self.head = i, -1
                self.depth += 1
            elif ch in "}]":
                self.depth -= 1
                if ch == "}" and self.depth == self.base and self.head >= 0:
                    if i > self.sent:
                        deltas.append(_arguments(self.calls - 1, text[self.sent:i]))
                    self.opened = self.head = -1
            if self.opened >= 0 and self.head < 0 and not ch.isspace() and (m := _CALL_HEAD.match(text, self.opened, i)):
                if m.end() == i:  # the head is whole, and `ch` starts the arguments
                    self.head = self.sent = i
                    deltas.append(chat.ChoiceDelta(tool_calls=[chat.ToolCallDelta(
                        index=self.calls, id=new_call_id(), type="function",
                        function=chat.ToolCallFunctionDelta(name=json.loads(f'"{m[1]}"'), arguments=""))]))
                    self.calls += 1
        self.scanned = len(text)
        if self.head >= 0 and len(text) > self.sent:
            deltas.append(_arguments(self.calls - 1, text[self.sent:]))
            self.sent = len(text)
        return deltas

    def _words(self) -> list[chat.ChoiceDelta]:
        body = self.text[self.head:].lstrip()
        if not body.startswith('"'):
            return []
        decoded = _decode_prefix(body[1:])
        if len(decoded) <= self.sent:
            return []
        piece, self.sent = decoded[self.sent:], len(decoded)
        return [chat.ChoiceDelta(content=piece)]


def _arguments(index: int, fragment: str) -> chat.ChoiceDelta:
    return chat.ChoiceDelta(tool_calls=[chat.ToolCallDelta(index=index, function=chat.ToolCallFunctionDelta(
        arguments=fragment))])


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
