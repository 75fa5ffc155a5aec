"""`/v1/responses`: create a response (one model turn, run by the chat service over the bus),
retrieve and delete a stored one, and list its input items.

A stored response (`store`, true by default) is written once the model has taken the request,
`in_progress`, and again with its outcome before the client hears the terminal event, so a
`previous_response_id` sent right after a turn always finds it. Its context (the previous
responses' input and output items, function calls and their outputs included, or a conversation's
items) is read from MongoDB on each turn: any replica can continue any response.
"""

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass

import msgspec

from services.kit import service as bus_service
from services.kit.outcome import Outcome
from services.kit.tables import new_id
from services.responses import chat_translation, conversations, items
from services.responses.context import Context
from services.responses.tables import ConversationRecord, ResponseRecord
from shared import errors, subjects
from shared.bus import BusUnavailable, NoResponders, Replier
from shared.protocol.bus import Data, Done, Envelope, Failure, TokenCounts
from shared.protocol.chat import ChatCompletionChunk
from shared.protocol.responses import (
    ConversationRef,
    InputItemsQuery,
    Item,
    ItemList,
    Response,
    ResponseCreateRequest,
    ResponseDeleted,
    StreamEvent,
)

log = logging.getLogger("responses")
_encode = msgspec.json.Encoder().encode
_create = msgspec.json.Decoder(ResponseCreateRequest)
_chunk = msgspec.json.Decoder(ChatCompletionChunk).decode
_response_id = msgspec.json.Decoder(str)
_input_items = msgspec.json.Decoder(InputItemsQuery)


def not_found(response_id: str) -> errors.ApiError:
    return errors.ApiError(404, f"Response with id '{response_id}' not found.", param="response_id",
                           code="not_found")


@dataclass(frozen=True, slots=True)
class Before:
    """What a turn reads before it runs: the items before its input, the ids of the stored
    responses they come from, and the conversation it continues."""

    items: list[Item]
    chain: list[str]
    conversation: ConversationRecord | None


class Responses:
    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._running: dict[str, asyncio.Task] = {}
        self._client_gone: set[str] = set()

    def cancel(self, request_id: str) -> None:
        task = self._running.get(request_id)
        if task is not None:
            self._client_gone.add(request_id)
            task.cancel()

    # ------------------------------------------------------------ POST /v1/responses

    async def create(self, envelope: Envelope, replier: Replier, outcome: Outcome) -> None:
        request = bus_service.decode(_create, envelope.body)
        outcome.model, outcome.stream = request.model, bool(request.stream)
        if request.background:
            raise errors.invalid_request("Background responses are not supported yet.", param="background",
                                         code="unsupported_value")
        tools = chat_translation.function_tools(request.tools)
        given = items.parse(request.input, param="input")
        before = await self._context(envelope.project, request)
        given = [items.stored(item) for item in items.resolve(given, before.items)]
        if not given and not before.items:
            raise errors.invalid_request("Missing required parameter: 'input'.", param="input",
                                         code="missing_required_parameter")
        body = chat_translation.chat_request(request, before.items + given, tools)
        response = Response(
            id=new_id("resp_"), created_at=int(time.time()), status="in_progress", model=request.model,
            instructions=request.instructions, max_output_tokens=request.max_output_tokens,
            parallel_tool_calls=request.parallel_tool_calls is not False,
            previous_response_id=request.previous_response_id,
            conversation=ConversationRef(id=before.conversation.id) if before.conversation else None,
            reasoning=request.reasoning, store=request.store is not False,
            temperature=request.temperature if request.temperature is not None else 1.0,
            top_p=request.top_p if request.top_p is not None else 1.0,
            tool_choice=request.tool_choice or "auto", tools=tools, truncation=request.truncation or "disabled",
            user=request.user if request.user is not None else msgspec.UNSET, metadata=request.metadata or {}, output=[],
            **({"text": request.text} if request.text is not None else {}))
        self._running[envelope.request_id] = asyncio.current_task()
        try:
            await self._run(envelope, replier, outcome, turn=chat_translation.Turn(response), body=body,
                            given=given, before=before)
        except asyncio.CancelledError:
            await asyncio.shield(self._stopped(envelope.request_id, response))
            if envelope.request_id not in self._client_gone:
                raise  # the service is stopping: `BusService` tells the client
            outcome.failed(errors.CLIENT_CLOSED, "client_closed", result="cancelled")
        finally:
            del self._running[envelope.request_id]
            self._client_gone.discard(envelope.request_id)

    async def _run(self, envelope: Envelope, replier: Replier, outcome: Outcome, *, turn: chat_translation.Turn,
                   body: bytes, given: list[Item], before: Before) -> None:
        settings, stream, store = self._ctx.settings, outcome.stream, turn.response.store
        call = Envelope(request_id=envelope.request_id, project=envelope.project, body=msgspec.Raw(body))
        frames = self._ctx.caller.frames(subjects.CHAT_COMPLETIONS, call, idle_timeout=settings.call_idle_timeout)
        async with asyncio.timeout(settings.call_timeout), contextlib.aclosing(frames):
            frame = await _first(frames)
            # The model has taken the request: from here on, the response exists.
            if store:
                await self._ctx.tables.responses.insert(ResponseRecord(
                    id=turn.response.id, project=envelope.project, response=turn.response, input=given,
                    chain=before.chain))
            await _send(replier, outcome, turn.start() if stream else [])
            while True:
                match frame:
                    case Data():
                        events = turn.chunk(_chunk(frame.body))
                        if stream:
                            await _send(replier, outcome, events)
                    case Done():
                        final = turn.finish()
                        break
                    case Failure():
                        final = turn.fail(errors.ApiError.from_object(frame.status, frame.error))
                        break
                try:
                    frame = await anext(frames)
                except (TimeoutError, NoResponders, StopAsyncIteration):
                    final = turn.fail(errors.ApiError(502, "The model stopped answering in the middle of the "
                                                      "response.", type="server_error"))
                    break
        response = turn.response
        if turn.usage is not None:
            outcome.usage = TokenCounts(prompt_tokens=turn.usage.prompt_tokens,
                                        completion_tokens=turn.usage.completion_tokens)
        if store:
            await self._ctx.tables.responses.update({"_id": response.id}, {"response": msgspec.to_builtins(response)})
        if before.conversation is not None and response.status != "failed":
            await conversations.append(self._ctx, before.conversation, [*given, *response.output])
        if stream:
            await _send(replier, outcome, final)
            await replier.done(usage=outcome.usage)
        elif response.status == "failed":
            raise errors.ApiError(500, response.error.message, type="server_error")
        else:
            await replier.data(_encode(response), usage=outcome.usage)

    async def _stopped(self, request_id: str, response: Response) -> None:
        """The turn was stopped (its client went away, or the service is stopping): the model stops
        too, and a stored response ends `cancelled` rather than staying `in_progress`."""
        try:
            await self._ctx.nc.publish(subjects.CANCEL, request_id.encode())
            if response.store:
                await self._ctx.tables.responses.update(
                    {"_id": response.id, "response.status": "in_progress"},
                    {"response.status": "cancelled"})
        except Exception:
            log.warning("request_id=%s: could not record the stop of %s", request_id, response.id, exc_info=True)

    async def _context(self, project: str, request: ResponseCreateRequest) -> Before:
        if request.previous_response_id and request.conversation:
            raise errors.invalid_request("Mutually exclusive parameters: 'previous_response_id' and 'conversation' "
                                         "cannot be given together.", param="conversation",
                                         code="mutually_exclusive_parameters")
        if request.conversation:
            conversation_id = request.conversation if isinstance(request.conversation, str) \
                else request.conversation.id
            conversation = await conversations.own(self._ctx, conversation_id, project, param="conversation")
            return Before(await conversations.all_items(self._ctx, conversation), [], conversation)
        if not request.previous_response_id:
            return Before([], [], None)
        table = self._ctx.tables.responses
        previous = await table.get({"_id": request.previous_response_id, "project": project})
        if previous is None:
            raise errors.ApiError(404, f"Previous response with id '{request.previous_response_id}' not found.",
                                  param="previous_response_id", code="previous_response_not_found")
        found = {r.id: r for r in await table.find({"_id": {"$in": previous.chain}, "project": project})} \
            if previous.chain else {}
        before: list[Item] = []
        for record in [*(found[i] for i in previous.chain if i in found), previous]:
            before += [*record.input, *record.response.output]
        return Before(before, [*previous.chain, previous.id], None)

    # ------------------------------------------------------------ stored responses

    async def _own(self, response_id: str, project: str) -> ResponseRecord:
        record = await self._ctx.tables.responses.get({"_id": response_id, "project": project})
        if record is None:
            raise not_found(response_id)
        return record

    async def retrieve(self, envelope: Envelope) -> Response:
        response_id = bus_service.decode(_response_id, envelope.body)
        return (await self._own(response_id, envelope.project)).response

    async def delete(self, envelope: Envelope) -> ResponseDeleted:
        response_id = bus_service.decode(_response_id, envelope.body)
        if not await self._ctx.tables.responses.delete({"_id": response_id, "project": envelope.project}):
            raise not_found(response_id)
        return ResponseDeleted(id=response_id)

    async def input_items(self, envelope: Envelope) -> ItemList:
        query = bus_service.decode(_input_items, envelope.body)
        record = await self._own(query.response_id, envelope.project)
        return items.page(record.input, query, budget=self._ctx.page_budget)


async def _first(frames) -> Data | Done | Failure:
    """The chat service's first frame; a failure before any answer is the response's error."""
    try:
        first = await anext(frames)
    except BusUnavailable:
        raise errors.bus_unavailable() from None
    except NoResponders:
        raise errors.service_unavailable("chat") from None
    except TimeoutError:
        raise errors.timed_out("chat") from None
    if isinstance(first, Failure):
        raise errors.ApiError.from_object(first.status, first.error)
    return first


async def _send(replier: Replier, outcome: Outcome, events: list[StreamEvent]) -> None:
    for event in events:
        await replier.data(_encode(event))
        outcome.chunks += 1
