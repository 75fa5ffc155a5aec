"""`/v1/responses`: the requests as OpenAI documents them, the Response object, its items (which
conversations hold too: shared/protocol/conversations.py), and the stream's typed events.

Requests ignore fields they do not name, so clients may send newer ones. Input items come as a
list of objects that may leave out `type` (an "easy" message is `{"role", "content"}`), so the
request holds them loosely and the service reads each as an `Item` once it has its type.
"""

from typing import Annotated, Any, Literal

from msgspec import UNSET, Meta, Struct, UnsetType

from shared.protocol.metadata import Metadata

Limit = Annotated[int, Meta(ge=1, le=100)]
Order = Literal["asc", "desc"]
ItemStatus = Literal["in_progress", "completed", "incomplete"]

# ---------------------------------------------------------------- content parts


class InputText(Struct, tag="input_text", tag_field="type"):
    text: str


class OutputText(Struct, tag="output_text", tag_field="type", kw_only=True):
    text: str
    annotations: list[dict[str, Any]] = []
    logprobs: list[dict[str, Any]] = []


class Refusal(Struct, tag="refusal", tag_field="type"):
    refusal: str


class InputImage(Struct, tag="input_image", tag_field="type", kw_only=True):
    image_url: str | None = None
    file_id: str | None = None
    detail: Literal["low", "high", "auto", "original"] = "auto"


class InputFile(Struct, tag="input_file", tag_field="type", kw_only=True, omit_defaults=True):
    file_id: str | None = None
    file_data: str | None = None
    file_url: str | None = None
    filename: str | None = None


ContentPart = InputText | OutputText | Refusal | InputImage | InputFile

# ---------------------------------------------------------------- items
# As a client sends them (`id` and `status` may be missing), and as the API gives them back
# (both always set: the service fills them in before an item is stored or answered).


class Message(Struct, tag="message", tag_field="type", kw_only=True):
    id: str | None = None
    status: ItemStatus | None = None
    role: Literal["user", "assistant", "system", "developer"]
    content: str | list[ContentPart]


class FunctionCall(Struct, tag="function_call", tag_field="type", kw_only=True):
    id: str | None = None
    call_id: str
    name: str
    arguments: str
    status: ItemStatus | None = None


class FunctionCallOutput(Struct, tag="function_call_output", tag_field="type", kw_only=True):
    id: str | None = None
    call_id: str
    output: str | list[ContentPart]
    status: ItemStatus | None = None


class ItemReference(Struct, tag="item_reference", tag_field="type"):
    id: str


class Reasoning(Struct, tag="reasoning", tag_field="type", kw_only=True, omit_defaults=True):
    """A reasoning model's item, sent back by clients that keep context themselves: accepted, and
    left out of what a model without reasoning sees."""

    id: str | None = None
    summary: list[dict[str, Any]] = []
    content: list[dict[str, Any]] | None = None
    encrypted_content: str | None = None


class Compaction(Struct, tag="compaction", tag_field="type", kw_only=True):
    """What `POST /v1/responses/compact` makes of a context's earlier items: opaque to clients,
    which send it back as input in their place."""

    id: str | None = None
    encrypted_content: str


Item = Message | FunctionCall | FunctionCallOutput | ItemReference | Reasoning | Compaction
OutputItem = Message | FunctionCall

# ---------------------------------------------------------------- request


class FunctionTool(Struct, tag="function", tag_field="type", kw_only=True):
    name: Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[a-zA-Z0-9_-]+$")]
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class FormatText(Struct, tag="text", tag_field="type", frozen=True):
    pass


class FormatJsonObject(Struct, tag="json_object", tag_field="type"):
    pass


class FormatJsonSchema(Struct, tag="json_schema", tag_field="type", kw_only=True, omit_defaults=True):
    name: Annotated[str, Meta(min_length=1, max_length=64)]
    schema: dict[str, Any]
    description: str | None = None
    strict: bool | None = None


TextFormat = FormatText | FormatJsonObject | FormatJsonSchema


class TextConfig(Struct, kw_only=True, frozen=True):
    format: TextFormat = FormatText()
    verbosity: Literal["low", "medium", "high"] | None = None


class ConversationRef(Struct, kw_only=True):
    id: str


class ResponseCreateRequest(Struct, kw_only=True, omit_defaults=True):
    model: str
    input: str | list[dict[str, Any]] | None = None
    instructions: str | None = None
    # Any tool type the spec has; the service runs `function` tools and names the others in a 400.
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    text: TextConfig | None = None
    max_output_tokens: Annotated[int, Meta(ge=1)] | None = None
    temperature: Annotated[float, Meta(ge=0, le=2)] | None = None
    top_p: Annotated[float, Meta(ge=0, le=1)] | None = None
    metadata: Metadata | None = None
    user: str | None = None
    store: bool | None = None
    stream: bool | None = None
    previous_response_id: str | None = None
    conversation: str | ConversationRef | None = None
    truncation: Literal["auto", "disabled"] | None = None
    include: list[str] | None = None
    reasoning: dict[str, Any] | None = None
    background: bool | None = None
    service_tier: str | None = None
    top_logprobs: Annotated[int, Meta(ge=0, le=20)] | None = None  # with `include` message.output_text.logprobs


# ---------------------------------------------------------------- the Response object


class InputTokensDetails(Struct, kw_only=True, frozen=True):
    cached_tokens: int = 0
    cache_write_tokens: int = 0


class OutputTokensDetails(Struct, kw_only=True, frozen=True):
    reasoning_tokens: int = 0


class ResponseUsage(Struct, kw_only=True):
    input_tokens: int
    input_tokens_details: InputTokensDetails = InputTokensDetails()
    output_tokens: int
    output_tokens_details: OutputTokensDetails = OutputTokensDetails()
    total_tokens: int


class ResponseError(Struct, kw_only=True):
    code: str
    message: str


class IncompleteDetails(Struct, kw_only=True):
    reason: Literal["max_output_tokens", "content_filter"]


ResponseStatus = Literal["completed", "failed", "in_progress", "cancelled", "queued", "incomplete"]


class Response(Struct, kw_only=True, tag="response", tag_field="object"):
    id: str
    created_at: int
    status: ResponseStatus
    completed_at: int | None = None
    error: ResponseError | None = None
    incomplete_details: IncompleteDetails | None = None
    instructions: str | None = None
    max_output_tokens: int | None = None
    model: str
    output: list[OutputItem] = []
    parallel_tool_calls: bool = True
    previous_response_id: str | None = None
    conversation: ConversationRef | None = None
    reasoning: dict[str, Any] | None = None
    store: bool = True
    background: bool = False
    temperature: float | None = 1.0
    top_p: float | None = 1.0
    top_logprobs: int | None = None
    text: TextConfig = TextConfig()
    tool_choice: str | dict[str, Any] = "auto"
    tools: list[FunctionTool] = []
    truncation: Literal["auto", "disabled"] = "disabled"
    user: str | UnsetType = UNSET  # not nullable in the schema: left out when the request had none
    metadata: dict[str, str] = {}
    # Not nullable in the schema: left out until the model reported it.
    usage: ResponseUsage | UnsetType = UNSET


class InputTokens(Struct, kw_only=True, tag="response.input_tokens", tag_field="object"):
    """`POST /v1/responses/input_tokens`: what a response made of the same request would read."""

    input_tokens: int


class Compacted(Struct, kw_only=True, tag="response.compaction", tag_field="object"):
    """`POST /v1/responses/compact`: the context's user messages, then one `compaction` item for
    the rest."""

    id: str
    created_at: int
    output: list[Item]
    usage: ResponseUsage


class ResponseDeleted(Struct, kw_only=True, tag="response.deleted", tag_field="object"):
    id: str
    deleted: bool = True


class ItemList(Struct, kw_only=True, tag="list", tag_field="object"):
    """A page of items: a response's input items, or a conversation's items."""

    data: list[Item]
    first_id: str | None
    last_id: str | None
    has_more: bool


# ---------------------------------------------------------------- stream events
# Each carries `sequence_number`, counted from 0 within one response's stream.


class ResponseCreated(Struct, tag="response.created", tag_field="type", kw_only=True):
    response: Response
    sequence_number: int


class ResponseInProgress(Struct, tag="response.in_progress", tag_field="type", kw_only=True):
    response: Response
    sequence_number: int


class ResponseCompleted(Struct, tag="response.completed", tag_field="type", kw_only=True):
    response: Response
    sequence_number: int


class ResponseIncomplete(Struct, tag="response.incomplete", tag_field="type", kw_only=True):
    response: Response
    sequence_number: int


class ResponseFailed(Struct, tag="response.failed", tag_field="type", kw_only=True):
    response: Response
    sequence_number: int


class OutputItemAdded(Struct, tag="response.output_item.added", tag_field="type", kw_only=True):
    output_index: int
    item: OutputItem
    sequence_number: int


class OutputItemDone(Struct, tag="response.output_item.done", tag_field="type", kw_only=True):
    output_index: int
    item: OutputItem
    sequence_number: int


class ContentPartAdded(Struct, tag="response.content_part.added", tag_field="type", kw_only=True):
    item_id: str
    output_index: int
    content_index: int
    part: OutputText | Refusal
    sequence_number: int


class ContentPartDone(Struct, tag="response.content_part.done", tag_field="type", kw_only=True):
    item_id: str
    output_index: int
    content_index: int
    part: OutputText | Refusal
    sequence_number: int


class OutputTextDelta(Struct, tag="response.output_text.delta", tag_field="type", kw_only=True):
    item_id: str
    output_index: int
    content_index: int
    delta: str
    logprobs: list[dict[str, Any]] = []
    sequence_number: int


class OutputTextDone(Struct, tag="response.output_text.done", tag_field="type", kw_only=True):
    item_id: str
    output_index: int
    content_index: int
    text: str
    logprobs: list[dict[str, Any]] = []
    sequence_number: int


class RefusalDelta(Struct, tag="response.refusal.delta", tag_field="type", kw_only=True):
    item_id: str
    output_index: int
    content_index: int
    delta: str
    sequence_number: int


class RefusalDone(Struct, tag="response.refusal.done", tag_field="type", kw_only=True):
    item_id: str
    output_index: int
    content_index: int
    refusal: str
    sequence_number: int


class FunctionCallArgumentsDelta(Struct, tag="response.function_call_arguments.delta", tag_field="type",
                                 kw_only=True):
    item_id: str
    output_index: int
    delta: str
    sequence_number: int


class FunctionCallArgumentsDone(Struct, tag="response.function_call_arguments.done", tag_field="type",
                                kw_only=True):
    item_id: str
    name: str
    output_index: int
    arguments: str
    sequence_number: int


class ErrorEvent(Struct, tag="error", tag_field="type", kw_only=True):
    code: str | None
    message: str
    param: str | None
    sequence_number: int


StreamEvent = (ResponseCreated | ResponseInProgress | ResponseCompleted | ResponseIncomplete | ResponseFailed
               | OutputItemAdded | OutputItemDone | ContentPartAdded | ContentPartDone | OutputTextDelta
               | OutputTextDone | RefusalDelta | RefusalDone | FunctionCallArgumentsDelta
               | FunctionCallArgumentsDone | ErrorEvent)

# ---------------------------------------------------------------- requests (edge → responses service)


class ResponseRetrieveQuery(Struct, kw_only=True, omit_defaults=True):
    """`GET /v1/responses/{response_id}`: the id and the query parameters (`stream=true` replays a
    background response's events after `starting_after`, then follows it)."""

    response_id: str
    stream: bool = False
    starting_after: Annotated[int, Meta(ge=-1)] = -1
    include: list[str] | None = None


class InputItemsQuery(Struct, kw_only=True, omit_defaults=True):
    """`GET /v1/responses/{response_id}/input_items`: the id and the query parameters."""

    response_id: str
    after: str | None = None
    before: str | None = None
    limit: Limit = 20
    order: Order = "desc"
    include: list[str] | None = None
