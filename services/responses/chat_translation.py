"""The one translation between the Responses API and chat completions, both ways.

- `chat_request`: a Responses request and its context (items) → the chat completions request the
  chat service runs (JSON bytes; always streamed, with usage), whichever provider serves the model.
- `Turn`: the chat chunks that come back → the Responses stream's typed events, in order, each with
  its `sequence_number`, and the Response object they add up to. A tool call's arguments become
  `response.function_call_arguments.*` events of a `function_call` item, never text.
"""

import time
from typing import Any

import msgspec

from services.kit.tables import new_id
from services.responses import compaction
from shared import errors
from shared.protocol.chat import ChatCompletionChunk, TokenLogprob, Usage
from shared.protocol.responses import (
    Compaction,
    ContentPartAdded,
    ContentPartDone,
    ErrorEvent,
    FormatJsonObject,
    FormatJsonSchema,
    FunctionCall,
    FunctionCallArgumentsDelta,
    FunctionCallArgumentsDone,
    FunctionCallOutput,
    FunctionTool,
    IncompleteDetails,
    InputFile,
    InputImage,
    InputText,
    InputTokensDetails,
    Item,
    Message,
    OutputItemAdded,
    OutputItemDone,
    OutputText,
    OutputTextDelta,
    OutputTextDone,
    OutputTokensDetails,
    Reasoning,
    Refusal,
    RefusalDelta,
    RefusalDone,
    Response,
    ResponseCompleted,
    ResponseCreated,
    ResponseCreateRequest,
    ResponseError,
    ResponseFailed,
    ResponseIncomplete,
    ResponseInProgress,
    ResponseUsage,
    StreamEvent,
)

_encode = msgspec.json.Encoder().encode
_chunk = msgspec.json.Decoder(ChatCompletionChunk).decode

# ---------------------------------------------------------------- request: tools


def function_tools(tools: list[dict[str, Any]] | None) -> list[FunctionTool]:
    """The request's tools, all of type `function`: a tool of another type (computer use, code
    interpreter, image generation, web or file search, MCP, shells…) is a 400 that names it, as no
    model behind Vivian runs it."""
    found = []
    for index, tool in enumerate(tools or ()):
        kind = tool.get("type")
        if kind != "function":
            raise errors.invalid_request(
                f"The tool type '{kind}' is not supported here: only 'function' tools can run "
                f"(tools[{index}]).", param="tools", code="unsupported_value")
        try:
            found.append(msgspec.convert(tool, FunctionTool))
        except msgspec.ValidationError as err:
            problem = errors.from_validation(err)
            raise errors.invalid_request(f"Invalid 'tools[{index}]': {problem.message}",
                                         param=f"tools[{index}].{problem.param}" if problem.param else "tools",
                                         code=problem.code) from None
    return found


def _chat_tool(tool: FunctionTool) -> dict:
    function: dict[str, Any] = {"name": tool.name}
    if tool.description is not None:
        function["description"] = tool.description
    if tool.parameters is not None:
        function["parameters"] = tool.parameters
    if tool.strict is not None:
        function["strict"] = tool.strict
    return {"type": "function", "function": function}


def _tool_choice(choice: str | dict[str, Any] | None, tools: list[FunctionTool]) -> tuple[Any, list[FunctionTool]]:
    """Chat's `tool_choice` for the Responses one, and the tools left to offer (`allowed_tools`
    narrows them)."""
    if choice is None or isinstance(choice, str):
        return choice, tools
    kind = choice.get("type")
    if kind == "function" and isinstance(choice.get("name"), str):
        return {"type": "function", "function": {"name": choice["name"]}}, tools
    if kind == "allowed_tools":
        names = {t.get("name") for t in choice.get("tools") or () if t.get("type") == "function"}
        return choice.get("mode", "auto"), [tool for tool in tools if tool.name in names]
    raise errors.invalid_request(f"The tool_choice type '{kind}' is not supported here: only 'function' tools "
                                 "can run.", param="tool_choice", code="unsupported_value")


def _response_format(request: ResponseCreateRequest) -> dict | None:
    match request.text.format if request.text is not None else None:
        case FormatJsonObject():
            return {"type": "json_object"}
        case FormatJsonSchema() as f:
            schema: dict[str, Any] = {"name": f.name, "schema": f.schema}
            if f.description is not None:
                schema["description"] = f.description
            if f.strict is not None:
                schema["strict"] = f.strict
            return {"type": "json_schema", "json_schema": schema}
    return None


# ---------------------------------------------------------------- request: messages


def _text(content: str | list, *, param: str) -> str:
    if isinstance(content, str):
        return content
    texts = []
    for part in content:
        match part:
            case InputText() | OutputText():
                texts.append(part.text)
            case Refusal():
                texts.append(part.refusal)
            case _:
                raise errors.invalid_request(f"Only text can be given here, not '{type(part).__struct_config__.tag}'.",
                                             param=param, code="invalid_value")
    return "".join(texts)


def _user_parts(content: str | list, *, param: str) -> str | list[dict]:
    if isinstance(content, str):
        return content
    parts: list[dict] = []
    for index, part in enumerate(content):
        match part:
            case InputText() | OutputText():
                parts.append({"type": "text", "text": part.text})
            case InputImage(image_url=str() as url):
                parts.append({"type": "image_url", "image_url": {"url": url, "detail": part.detail
                                                                 if part.detail != "original" else "high"}})
            case InputImage():
                raise errors.invalid_request("An input image by 'file_id' is not supported yet; give its "
                                             "'image_url' (a data URL works).", param=f"{param}[{index}]",
                                             code="unsupported_value")
            case InputFile():
                fields = msgspec.to_builtins(part)
                fields.pop("type", None)
                parts.append({"type": "file", "file": fields})
            case _:
                raise errors.invalid_request("A user message holds input parts only.", param=f"{param}[{index}]",
                                             code="invalid_value")
    return parts


def messages(instructions: str | None, context: list[Item]) -> list[dict]:
    """The chat messages for `instructions` and `context`: a function call joins the assistant
    message before it (or starts one), so parallel calls travel as one message's `tool_calls`,
    and each function output becomes a `tool` message."""
    found: list[dict] = [{"role": "system", "content": instructions}] if instructions else []
    for index, item in enumerate(context):
        param = f"input[{index}].content"
        match item:
            case Message(role="assistant"):
                found.append({"role": "assistant", "content": _text(item.content, param=param)})
            case Message(role="system" | "developer"):
                found.append({"role": item.role, "content": _text(item.content, param=param)})
            case Message():
                found.append({"role": "user", "content": _user_parts(item.content, param=param)})
            case FunctionCall():
                call = {"id": item.call_id, "type": "function",
                        "function": {"name": item.name, "arguments": item.arguments}}
                last = found[-1] if found else None
                if last is not None and last["role"] == "assistant":
                    last.setdefault("tool_calls", []).append(call)
                    if not last.get("content"):
                        last["content"] = None
                else:
                    found.append({"role": "assistant", "content": None, "tool_calls": [call]})
            case FunctionCallOutput():
                found.append({"role": "tool", "tool_call_id": item.call_id,
                              "content": _text(item.output, param=f"input[{index}].output")})
            case Reasoning():
                pass  # a reasoning model's own notes: nothing a chat model reads
            case Compaction():
                summary = compaction.summary_of(item, index=index)
                found.append({"role": "system", "content": compaction.HEADING + summary})
    return found


def without_oldest_turn(context: list[Item]) -> list[Item] | None:
    """`context` less its oldest turn (everything before its second user message, but for system
    and developer messages), for `truncation: auto`; None when a single turn is left."""
    users = [i for i, item in enumerate(context) if isinstance(item, Message) and item.role == "user"]
    if len(users) < 2:
        return None
    kept = [item for item in context[:users[1]] if isinstance(item, Message) and item.role in ("system", "developer")]
    return kept + context[users[1]:]


def chat_request(request: ResponseCreateRequest, context: list[Item], tools: list[FunctionTool]) -> bytes:
    """The chat completions request (JSON) that runs `request` on `context`."""
    choice, offered = _tool_choice(request.tool_choice, tools)
    body: dict[str, Any] = {"model": request.model, "messages": messages(request.instructions, context),
                            "stream": True, "stream_options": {"include_usage": True}}
    if offered:
        body["tools"] = [_chat_tool(tool) for tool in offered]
        if choice is not None:
            body["tool_choice"] = choice
        if request.parallel_tool_calls is not None:
            body["parallel_tool_calls"] = request.parallel_tool_calls
    elif choice == "required":
        raise errors.invalid_request("tool_choice 'required' needs at least one tool.", param="tool_choice",
                                     code="invalid_value")
    if request.top_logprobs is not None or "message.output_text.logprobs" in (request.include or ()):
        body["logprobs"] = True
        # At least one: the local provider (llama.cpp) gives no logprobs at all for 0; `Turn` keeps
        # only the `top_logprobs` asked for.
        body["top_logprobs"] = max(request.top_logprobs or 0, 1)
    if (response_format := _response_format(request)) is not None:
        body["response_format"] = response_format
    for ours, theirs in (("max_output_tokens", "max_completion_tokens"), ("temperature", "temperature"),
                         ("top_p", "top_p"), ("user", "user")):
        if (value := getattr(request, ours)) is not None:
            body[theirs] = value
    return _encode(body)


def usage_of(usage: Usage) -> ResponseUsage:
    cached = usage.prompt_tokens_details.cached_tokens if usage.prompt_tokens_details else 0
    reasoning = usage.completion_tokens_details.reasoning_tokens if usage.completion_tokens_details else 0
    return ResponseUsage(input_tokens=usage.prompt_tokens, output_tokens=usage.completion_tokens,
                         total_tokens=usage.total_tokens, input_tokens_details=InputTokensDetails(cached_tokens=cached),
                         output_tokens_details=OutputTokensDetails(reasoning_tokens=reasoning))


# ---------------------------------------------------------------- answer: chunks → events


class Turn:
    """One model turn's events and the Response they add up to. Feed it `start()`, then each chat
    chunk (`data`, or `chunk` decoded), then `finish()` (or `fail()`); each returns the events to
    send, in order."""

    def __init__(self, response: Response) -> None:
        self.response = response
        self._top = response.top_logprobs or 0
        self._seq = 0
        self._message: Message | None = None  # the open message item, if any
        self._part: OutputText | Refusal | None = None
        self._call: FunctionCall | None = None  # the open function call item, if any
        self._call_index: int | None = None
        self._finish: str | None = None
        self.usage: Usage | None = None

    def _event(self, kind: type, **fields) -> StreamEvent:
        event = kind(**fields, sequence_number=self._seq)
        self._seq += 1
        return event

    def _snapshot(self) -> Response:
        return msgspec.structs.replace(self.response, output=list(self.response.output))

    def start(self) -> list[StreamEvent]:
        return [self._event(ResponseCreated, response=self._snapshot()),
                self._event(ResponseInProgress, response=self._snapshot())]

    @property
    def _output_index(self) -> int:
        return len(self.response.output) - 1

    def data(self, body: bytes) -> list[StreamEvent]:
        """The events of one chat chunk as the chat service sent it."""
        return self.chunk(_chunk(body))

    def chunk(self, chunk: ChatCompletionChunk) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        if isinstance(chunk.usage, Usage):
            self.usage = chunk.usage
        for choice in chunk.choices:
            if choice.index != 0:
                continue
            delta = choice.delta
            if delta.content:
                events += self._text(delta.content, choice.logprobs.content if choice.logprobs else None)
            if delta.refusal:
                events += self._refusal(delta.refusal)
            for call in delta.tool_calls or ():
                events += self._tool_call(call)
            self._finish = choice.finish_reason or self._finish
        return events

    # -------------------------------------------------------- items

    def _open_message(self) -> list[StreamEvent]:
        if self._message is not None:
            return []
        events = self._close_call()
        self._message = Message(id=new_id("msg_"), status="in_progress", role="assistant", content=[])
        self.response.output.append(self._message)
        return events + [self._event(OutputItemAdded, output_index=self._output_index,
                                     item=msgspec.structs.replace(self._message, content=[]))]

    def _open_part(self, part: OutputText | Refusal) -> list[StreamEvent]:
        events = self._open_message()
        if self._part is not None and type(self._part) is type(part):
            return events
        events += self._close_part()
        self._part = part
        self._message.content.append(part)
        return events + [self._event(ContentPartAdded, item_id=self._message.id, output_index=self._output_index,
                                     content_index=len(self._message.content) - 1,
                                     part=msgspec.structs.replace(part))]

    def _text(self, text: str, logprobs: list[TokenLogprob] | None) -> list[StreamEvent]:
        events = self._open_part(OutputText(text=""))
        self._part.text += text
        logprobs = [msgspec.structs.replace(t, top_logprobs=t.top_logprobs[:self._top]) for t in logprobs or ()]
        self._part.logprobs += msgspec.to_builtins(logprobs)
        brief = [{"token": t.token, "logprob": t.logprob,
                  "top_logprobs": [{"token": top.token, "logprob": top.logprob} for top in t.top_logprobs]}
                 for t in logprobs]
        return events + [self._event(OutputTextDelta, item_id=self._message.id, output_index=self._output_index,
                                     content_index=len(self._message.content) - 1, delta=text, logprobs=brief)]

    def _refusal(self, text: str) -> list[StreamEvent]:
        events = self._open_part(Refusal(refusal=""))
        self._part.refusal += text
        return events + [self._event(RefusalDelta, item_id=self._message.id, output_index=self._output_index,
                                     content_index=len(self._message.content) - 1, delta=text)]

    def _close_part(self) -> list[StreamEvent]:
        part, self._part = self._part, None
        if part is None:
            return []
        where = {"item_id": self._message.id, "output_index": self._output_index,
                 "content_index": len(self._message.content) - 1}
        events = [self._event(OutputTextDone, **where, text=part.text) if isinstance(part, OutputText)
                  else self._event(RefusalDone, **where, refusal=part.refusal)]
        return events + [self._event(ContentPartDone, **where, part=msgspec.structs.replace(part))]

    def _close_message(self, status: str) -> list[StreamEvent]:
        if self._message is None:
            return []
        events = self._close_part()
        self._message.status = status
        message, self._message = self._message, None
        return events + [self._event(OutputItemDone, output_index=self.response.output.index(message),
                                     item=msgspec.structs.replace(message, content=list(message.content)))]

    def _tool_call(self, delta) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        if self._call is None or delta.index != self._call_index:
            events += self._close_message("completed") + self._close_call()
            name = delta.function.name if delta.function is not None and delta.function.name else ""
            self._call = FunctionCall(id=new_id("fc_"), call_id=delta.id or new_id("call_"), name=name,
                                      arguments="", status="in_progress")
            self._call_index = delta.index
            self.response.output.append(self._call)
            events.append(self._event(OutputItemAdded, output_index=self._output_index,
                                      item=msgspec.structs.replace(self._call)))
        elif delta.function is not None and delta.function.name and not self._call.name:
            self._call.name = delta.function.name
        if delta.function is not None and delta.function.arguments:
            self._call.arguments += delta.function.arguments
            events.append(self._event(FunctionCallArgumentsDelta, item_id=self._call.id,
                                      output_index=self._output_index, delta=delta.function.arguments))
        return events

    def _close_call(self, status: str = "completed") -> list[StreamEvent]:
        call, self._call = self._call, None
        if call is None:
            return []
        call.status = status
        index = self.response.output.index(call)
        return [self._event(FunctionCallArgumentsDone, item_id=call.id, name=call.name, output_index=index,
                            arguments=call.arguments),
                self._event(OutputItemDone, output_index=index, item=msgspec.structs.replace(call))]

    # -------------------------------------------------------- the end

    def finish(self) -> list[StreamEvent]:
        """Close what is open; the terminal event (`response.completed`, or `response.incomplete`
        when the model stopped at `max_output_tokens` or a content filter)."""
        reason = {"length": "max_output_tokens", "content_filter": "content_filter"}.get(self._finish or "")
        status = "incomplete" if reason else "completed"
        events = self._close_message(status) + self._close_call(status)
        changes: dict[str, Any] = {"status": status}
        if reason:
            changes["incomplete_details"] = IncompleteDetails(reason=reason)
        else:
            changes["completed_at"] = int(time.time())
        if self.usage is not None:
            changes["usage"] = usage_of(self.usage)
        self.response = msgspec.structs.replace(self.response, **changes)
        kind = ResponseIncomplete if reason else ResponseCompleted
        return events + [self._event(kind, response=self.response)]

    def fail(self, err: errors.ApiError) -> list[StreamEvent]:
        """The model's call failed: open items end `incomplete`, then `response.failed`."""
        events = self._close_message("incomplete") + self._close_call("incomplete")
        code = "server_error" if err.status >= 500 else "invalid_prompt"
        self.response = msgspec.structs.replace(self.response, status="failed",
                                                error=ResponseError(code=code, message=err.message))
        return events + [self._event(ResponseFailed, response=self.response)]

    def error(self, err: errors.ApiError) -> StreamEvent:
        """The `error` event: the turn broke after its stream began, beyond what `fail` covers."""
        return self._event(ErrorEvent, code=err.code or err.type, message=err.message, param=err.param)
