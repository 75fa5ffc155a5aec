"""Stored chat completions (`store: true`): each finished completion is kept in MongoDB, owned by
the key's project, with the request's messages, and listed, retrieved, updated and deleted through
`/v1/chat/completions[/{completion_id}[/messages]]`.

A completion is written after its answer went out (for a stream, assembled from its chunks once it
ended), by a task of its own, so storing never delays an answer; a write that fails is logged and
the completion is not stored. Without a database configured nothing is stored, and the calls
answer as for completions that do not exist (an empty list, 404s).
"""

import asyncio
import logging
import time

import msgspec

from services.kit import service as bus_service
from services.kit.tables import Database, Table, page, sequence
from shared import errors
from shared.protocol.bus import Envelope
from shared.protocol.chat import (
    AssistantMessage,
    AudioPart,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionMessage,
    Choice,
    ChoiceLogprobs,
    FilePart,
    FunctionCall,
    ImagePart,
    Message,
    TextPart,
    ToolCall,
    ToolMessage,
    Usage,
)
from shared.protocol.stored_completions import (
    ChatCompletionDeleted,
    ChatCompletionList,
    ChatCompletionListQuery,
    ChatCompletionMessageList,
    ChatCompletionMessagesQuery,
    ChatCompletionUpdate,
    StoredChatCompletion,
    StoredMessage,
)

log = logging.getLogger("chat")
COLLECTION = "chat_completions"
MAX_KEY = 64  # characters of a metadata key
_completion = msgspec.json.Decoder(ChatCompletion).decode
_chunk = msgspec.json.Decoder(ChatCompletionChunk).decode
_list_query = msgspec.json.Decoder(ChatCompletionListQuery)
_messages_query = msgspec.json.Decoder(ChatCompletionMessagesQuery)
_update = msgspec.json.Decoder(ChatCompletionUpdate)
_completion_id = msgspec.json.Decoder(str)


class CompletionRecord(msgspec.Struct, kw_only=True, rename={"id": "_id"}):
    id: str
    project: str
    seq: str  # the listing order (services/kit/tables.py)
    model: str  # the model the request named: what `GET /v1/chat/completions?model=` filters on
    metadata: dict[str, str] = {}
    completion: ChatCompletion
    messages: list[Message]


def not_found(completion_id: str) -> errors.ApiError:
    return errors.ApiError(404, f"No chat completion found with id '{completion_id}'.", param="completion_id",
                           code="not_found")


def assemble(chunks: list[bytes]) -> ChatCompletion | None:
    """The completion a stream's chunks add up to (content, refusal and tool-call arguments joined
    per choice, the last finish reason, the usage when the stream reported it)."""
    choices: dict[int, dict] = {}
    head: ChatCompletionChunk | None = None
    usage: Usage | None = None
    for raw in chunks:
        chunk = _chunk(raw)
        head = head or chunk
        if isinstance(chunk.usage, Usage):
            usage = chunk.usage
        for c in chunk.choices:
            choice = choices.setdefault(c.index, {"content": [], "refusal": [], "tools": {}, "finish": None,
                                                  "logprobs": []})
            delta = c.delta
            if delta.content:
                choice["content"].append(delta.content)
            if delta.refusal:
                choice["refusal"].append(delta.refusal)
            for call in delta.tool_calls or ():
                tool = choice["tools"].setdefault(call.index, {"id": "", "name": "", "arguments": []})
                tool["id"] = call.id or tool["id"]
                if call.function is not None:
                    tool["name"] = call.function.name or tool["name"]
                    if call.function.arguments:
                        tool["arguments"].append(call.function.arguments)
            if c.logprobs is not None and c.logprobs.content:
                choice["logprobs"].extend(c.logprobs.content)
            choice["finish"] = c.finish_reason or choice["finish"]
    if head is None:
        return None
    return ChatCompletion(
        id=head.id, created=head.created, model=head.model, usage=usage, system_fingerprint=head.system_fingerprint,
        service_tier=head.service_tier,
        choices=[Choice(index=index, message=ChatCompletionMessage(
            role="assistant", content="".join(c["content"]) if c["content"] or not c["tools"] else None,
            refusal="".join(c["refusal"]) or None,
            tool_calls=[ToolCall(id=t["id"], function=FunctionCall(name=t["name"], arguments="".join(t["arguments"])))
                        for _, t in sorted(c["tools"].items())] or None),
            logprobs=ChoiceLogprobs(content=c["logprobs"]) if c["logprobs"] else None,
            finish_reason=c["finish"] or "stop") for index, c in sorted(choices.items())])


def _text(content) -> str | None:
    if content is None or isinstance(content, str):
        return content
    return "".join(part.text for part in content if isinstance(part, TextPart))


def message_object(completion_id: str, index: int, message: Message) -> StoredMessage:
    content = getattr(message, "content", None)
    parts = None if content is None or isinstance(content, str) else \
        [part for part in content if isinstance(part, (TextPart, ImagePart, AudioPart, FilePart))]
    return StoredMessage(
        id=f"{completion_id}-{index}", role=type(message).__struct_config__.tag, content=_text(content),
        name=getattr(message, "name", None), content_parts=parts,
        refusal=message.refusal if isinstance(message, AssistantMessage) else None,
        tool_calls=message.tool_calls if isinstance(message, AssistantMessage) else None,
        tool_call_id=message.tool_call_id if isinstance(message, ToolMessage) else None)


def completion_object(record: CompletionRecord) -> StoredChatCompletion:
    c = record.completion
    return StoredChatCompletion(id=c.id, created=c.created, model=c.model, choices=c.choices,
                                metadata=record.metadata, usage=c.usage, system_fingerprint=c.system_fingerprint,
                                service_tier=c.service_tier)


class CompletionStore:
    """The stored completions of every project, in MongoDB at `url` (its default database), or
    nowhere when `url` is empty."""

    def __init__(self, url: str, *, page_budget: int, timeout: float = 10.0) -> None:
        self._database = Database(url, timeout=timeout) if url else None
        self._table: Table[CompletionRecord] | None = None
        if self._database is not None:
            self._table = self._database.table(COLLECTION, CompletionRecord)
        self._page_budget = page_budget
        self._writes: set[asyncio.Task] = set()
        self._indexes: asyncio.Task | None = None

    @property
    def enabled(self) -> bool:
        return self._table is not None

    def start(self) -> None:
        if self._table is not None:  # in the background: chat serves while the database comes up
            self._indexes = asyncio.create_task(self._ensure_indexes())

    async def _ensure_indexes(self) -> None:
        try:
            # Index names are left to the server (nx-27017 does not keep custom ones).
            await self._table.collection.create_index([("project", 1), ("seq", 1)])
        except Exception:
            log.exception("could not create the stored completions' indexes")

    async def close(self) -> None:
        """Finish the writes under way, then disconnect."""
        if self._writes:
            await asyncio.wait(self._writes, timeout=10)
        if self._indexes is not None:
            self._indexes.cancel()
        if self._database is not None:
            await self._database.close()

    # ------------------------------------------------------------------ writing

    def keep(self, *, project: str, model: str, messages: list[Message], metadata: dict[str, str] | None,
             answer: bytes | None = None, chunks: list[bytes] | None = None) -> None:
        """Store a finished completion (its answer, or its stream's chunks) in the background."""
        if self._table is None:
            return
        task = asyncio.create_task(self._write(project, model, messages, metadata, answer, chunks))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def _write(self, project: str, model: str, messages: list[Message], metadata: dict[str, str] | None,
                     answer: bytes | None, chunks: list[bytes] | None) -> None:
        try:
            completion = _completion(answer) if answer is not None else assemble(chunks or [])
            if completion is None:
                return
            record = CompletionRecord(id=completion.id, project=project, seq=sequence(time.time_ns(), completion.id),
                                      model=model, metadata=metadata or {}, completion=completion,
                                      messages=messages)
            await self._table.insert(record)
        except Exception:
            log.exception("could not store a chat completion of project %s", project)

    # ------------------------------------------------------------------ the API

    async def _own(self, completion_id: str, project: str) -> CompletionRecord:
        record = await self._table.get({"_id": completion_id, "project": project}) if self._table else None
        if record is None:
            raise not_found(completion_id)
        return record

    async def list_completions(self, envelope: Envelope) -> ChatCompletionList:
        query = bus_service.decode(_list_query, envelope.body)
        if self._table is None:
            return ChatCompletionList(data=[], first_id=None, last_id=None, has_more=False)
        where: dict = {"project": envelope.project}
        if query.model:  # the name the request gave (an alias, say) or the model that answered
            where["$or"] = [{"model": query.model}, {"completion.model": query.model}]
        for key, value in (query.metadata or {}).items():
            if not key or "." in key or key.startswith("$"):
                raise errors.invalid_request(f"Invalid metadata key to filter on: '{key[:64]}'.", param="metadata",
                                             code="invalid_value")
            where[f"metadata.{key}"] = value
        ascending = query.order == "asc"
        if query.after:
            anchor = await self._table.get({"_id": query.after, "project": envelope.project})
            if anchor is None:
                raise errors.invalid_request(f"No chat completion found with id '{query.after}'.", param="after",
                                             code="invalid_value")
            where["seq"] = {"$gt" if ascending else "$lt": anchor.seq}
        records = await self._table.find(where, sort=[("seq", 1 if ascending else -1)], limit=query.limit + 1)
        data, has_more = page(records, query.limit, completion_object, budget=self._page_budget)
        return ChatCompletionList(data=data, first_id=data[0].id if data else None,
                                  last_id=data[-1].id if data else None, has_more=has_more)

    async def retrieve(self, envelope: Envelope) -> StoredChatCompletion:
        completion_id = bus_service.decode(_completion_id, envelope.body)
        return completion_object(await self._own(completion_id, envelope.project))

    async def update(self, envelope: Envelope) -> StoredChatCompletion:
        request = bus_service.decode(_update, envelope.body)
        if any(len(key) > MAX_KEY for key in request.metadata or ()):
            raise errors.invalid_request(f"Invalid 'metadata': keys are at most {MAX_KEY} characters.",
                                         param="metadata", code="invalid_value")
        record = await self._table.update({"_id": request.completion_id, "project": envelope.project},
                                          {"metadata": request.metadata or {}}) if self._table else None
        if record is None:
            raise not_found(request.completion_id)
        return completion_object(record)

    async def delete(self, envelope: Envelope) -> ChatCompletionDeleted:
        completion_id = bus_service.decode(_completion_id, envelope.body)
        deleted = await self._table.delete({"_id": completion_id, "project": envelope.project}) if self._table else 0
        if not deleted:
            raise not_found(completion_id)
        return ChatCompletionDeleted(id=completion_id, deleted=True)

    async def messages(self, envelope: Envelope) -> ChatCompletionMessageList:
        query = bus_service.decode(_messages_query, envelope.body)
        record = await self._own(query.completion_id, envelope.project)
        items = [message_object(record.id, index, message) for index, message in enumerate(record.messages)]
        if query.order == "desc":
            items.reverse()
        if query.after:
            at = next((i for i, item in enumerate(items) if item.id == query.after), None)
            if at is None:
                raise errors.invalid_request(f"No message found with id '{query.after}'.", param="after",
                                             code="invalid_value")
            items = items[at + 1:]
        data, has_more = page(items[:query.limit + 1], query.limit, lambda item: item, budget=self._page_budget)
        return ChatCompletionMessageList(data=data, first_id=data[0].id if data else None,
                                         last_id=data[-1].id if data else None, has_more=has_more)
