"""`/v1/chat/completions`: the request as OpenAI documents it, and the answers we send back.

Request structs ignore fields they do not name, so clients may send newer fields; the `openai`
provider relays them upstream from the raw body.
"""

from typing import Annotated, Any, Literal

from msgspec import UNSET, Meta, Struct, UnsetType

from shared.protocol.metadata import Metadata

# ---------------------------------------------------------------- request: content parts


class TextPart(Struct, tag="text", tag_field="type"):
    text: str


class ImageURL(Struct, kw_only=True):
    url: str
    detail: Literal["auto", "low", "high"] | None = None


class ImagePart(Struct, tag="image_url", tag_field="type"):
    image_url: ImageURL


class InputAudio(Struct, kw_only=True):
    data: str
    format: str


class AudioPart(Struct, tag="input_audio", tag_field="type"):
    input_audio: InputAudio


class InputFile(Struct, kw_only=True, omit_defaults=True):
    filename: str | None = None
    file_data: str | None = None  # base64
    file_id: str | None = None


class FilePart(Struct, tag="file", tag_field="type"):
    file: InputFile


class RefusalPart(Struct, tag="refusal", tag_field="type"):
    refusal: str


UserPart = TextPart | ImagePart | AudioPart | FilePart

# ---------------------------------------------------------------- request: messages


class FunctionCall(Struct, kw_only=True):
    name: str
    arguments: str


class ToolCall(Struct, kw_only=True):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class SystemMessage(Struct, tag="system", tag_field="role", kw_only=True, omit_defaults=True):
    content: str | list[TextPart]
    name: str | None = None


class DeveloperMessage(Struct, tag="developer", tag_field="role", kw_only=True, omit_defaults=True):
    content: str | list[TextPart]
    name: str | None = None


class UserMessage(Struct, tag="user", tag_field="role", kw_only=True, omit_defaults=True):
    content: str | list[UserPart]
    name: str | None = None


class AssistantMessage(Struct, tag="assistant", tag_field="role", kw_only=True, omit_defaults=True):
    content: str | list[TextPart | RefusalPart] | None = None
    name: str | None = None
    refusal: str | None = None
    tool_calls: list[ToolCall] | None = None
    function_call: FunctionCall | None = None


class ToolMessage(Struct, tag="tool", tag_field="role", kw_only=True, omit_defaults=True):
    content: str | list[TextPart]
    tool_call_id: str


class FunctionMessage(Struct, tag="function", tag_field="role", kw_only=True, omit_defaults=True):
    content: str | None
    name: str


Message = SystemMessage | DeveloperMessage | UserMessage | AssistantMessage | ToolMessage | FunctionMessage

# ---------------------------------------------------------------- request


class StreamOptions(Struct, kw_only=True, omit_defaults=True):
    include_usage: bool | None = None


class FunctionDefinition(Struct, kw_only=True, omit_defaults=True):
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class Tool(Struct, kw_only=True):
    type: Literal["function"]
    function: FunctionDefinition


# `tool_choice`: a mode, or an object tagged by `type`.


class ToolName(Struct, kw_only=True):
    name: str


class NamedToolChoice(Struct, tag="function", tag_field="type"):
    function: ToolName


class NamedToolChoiceCustom(Struct, tag="custom", tag_field="type"):
    custom: ToolName


class AllowedTools(Struct, kw_only=True):
    mode: Literal["auto", "required"]
    tools: list[dict[str, Any]]  # tool definitions, e.g. {"type": "function", "function": {"name": …}}


class AllowedToolsChoice(Struct, tag="allowed_tools", tag_field="type"):
    allowed_tools: AllowedTools


ToolChoiceOption = Literal["none", "auto", "required"] | NamedToolChoice | AllowedToolsChoice | NamedToolChoiceCustom

# `response_format`, tagged by `type`.


class ResponseFormatText(Struct, tag="text", tag_field="type"):
    pass


class ResponseFormatJsonObject(Struct, tag="json_object", tag_field="type"):
    pass


class JSONSchema(Struct, kw_only=True, omit_defaults=True):
    name: str
    description: str | None = None
    schema: dict[str, Any] | None = None
    strict: bool | None = None


class ResponseFormatJsonSchema(Struct, tag="json_schema", tag_field="type"):
    json_schema: JSONSchema


ResponseFormat = ResponseFormatText | ResponseFormatJsonObject | ResponseFormatJsonSchema


Probability = Annotated[float, Meta(ge=0, le=1)]
Penalty = Annotated[float, Meta(ge=-2, le=2)]
Stop = str | Annotated[list[str], Meta(max_length=4)]
Seed = Annotated[int, Meta(ge=-(2**63), le=2**63 - 1)]  # OpenAI's: a signed 64-bit integer
# Token id (a string of digits, checked by the service against the model's vocabulary) → bias.
LogitBias = dict[str, Annotated[int, Meta(ge=-100, le=100)]]


class ChatCompletionRequest(Struct, kw_only=True, omit_defaults=True):
    model: str
    messages: Annotated[list[Message], Meta(min_length=1)]
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    max_tokens: Annotated[int, Meta(ge=1)] | None = None
    max_completion_tokens: Annotated[int, Meta(ge=1)] | None = None
    temperature: Annotated[float, Meta(ge=0, le=2)] | None = None
    top_p: Probability | None = None
    n: Annotated[int, Meta(ge=1, le=128)] | None = None
    stop: Stop | None = None
    seed: Seed | None = None
    user: str | None = None
    metadata: Metadata | None = None
    store: bool | None = None
    presence_penalty: Penalty | None = None
    frequency_penalty: Penalty | None = None
    logit_bias: LogitBias | None = None
    logprobs: bool | None = None
    top_logprobs: Annotated[int, Meta(ge=0, le=20)] | None = None
    response_format: ResponseFormat | None = None
    tools: list[Tool] | None = None
    tool_choice: ToolChoiceOption | None = None
    parallel_tool_calls: bool | None = None


# ---------------------------------------------------------------- responses


class TopLogprob(Struct, kw_only=True):
    token: str
    logprob: float
    bytes: list[int] | None = None


class TokenLogprob(Struct, kw_only=True):
    token: str
    logprob: float
    bytes: list[int] | None = None
    top_logprobs: list[TopLogprob] = []


class ChoiceLogprobs(Struct, kw_only=True):
    content: list[TokenLogprob] | None = None
    refusal: list[TokenLogprob] | None = None


class PromptTokensDetails(Struct, kw_only=True):
    cached_tokens: int = 0
    audio_tokens: int = 0


class CompletionTokensDetails(Struct, kw_only=True):
    reasoning_tokens: int = 0
    audio_tokens: int = 0
    accepted_prediction_tokens: int = 0
    rejected_prediction_tokens: int = 0


class Usage(Struct, kw_only=True):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    prompt_tokens_details: PromptTokensDetails | None = None
    completion_tokens_details: CompletionTokensDetails | None = None


FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "function_call"]


# Answers: a field without a default is always sent (null included), as OpenAI's schema requires
# it; an optional one is left out while it is None. `object` is the struct's tag.


class ChatCompletionMessage(Struct, kw_only=True, omit_defaults=True):
    role: Literal["assistant"]
    content: str | None
    refusal: str | None
    tool_calls: list[ToolCall] | None = None


class Choice(Struct, kw_only=True):
    index: int
    message: ChatCompletionMessage
    logprobs: ChoiceLogprobs | None
    finish_reason: FinishReason


class ChatCompletion(Struct, kw_only=True, omit_defaults=True, tag="chat.completion", tag_field="object"):
    id: str
    created: int
    model: str
    choices: list[Choice]
    usage: Usage | None = None
    system_fingerprint: str | None = None
    service_tier: str | None = None


class ToolCallFunctionDelta(Struct, kw_only=True, omit_defaults=True):
    name: str | None = None
    arguments: str | None = None


class ToolCallDelta(Struct, kw_only=True, omit_defaults=True):
    index: int
    id: str | None = None
    type: Literal["function"] | None = None
    function: ToolCallFunctionDelta | None = None


class ChoiceDelta(Struct, kw_only=True, omit_defaults=True):
    role: Literal["assistant"] | None = None
    content: str | None = None
    refusal: str | None = None
    tool_calls: list[ToolCallDelta] | None = None


class ChunkChoice(Struct, kw_only=True):
    index: int
    delta: ChoiceDelta
    logprobs: ChoiceLogprobs | None = None
    finish_reason: FinishReason | None = None


class ChatCompletionChunk(Struct, kw_only=True, omit_defaults=True, tag="chat.completion.chunk",
                          tag_field="object"):
    id: str
    created: int
    model: str
    choices: list[ChunkChoice]
    # Left out unless the client set `stream_options.include_usage`; then null on every chunk but
    # the last, as OpenAI sends it.
    usage: Usage | None | UnsetType = UNSET
    system_fingerprint: str | None = None
    service_tier: str | None = None


