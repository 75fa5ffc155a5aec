"""`/v1/responses`: create a response (one model turn, run by the chat service over the bus: see
turns.py; translated to chat completions, or, for a model whose upstream has the Responses API,
passed through to it: see native.py), retrieve (or replay and follow the stream of) a stored one, delete it, cancel a
background one, and list its input items.

A response's context (the previous responses' input and output items, function calls and their
outputs included, or a conversation's items) is read from MongoDB on each turn, and a background
response is durable work on JetStream whose events are kept in MongoDB: any replica can continue,
follow or cancel any response.
"""

import asyncio
import logging
import time

import msgspec

from services.kit import service as bus_service
from services.kit.outcome import Outcome
from services.kit.tables import new_id
from services.responses import background, chat_translation, compaction, conversations, items, native, turns
from services.responses.context import Context
from services.responses.tables import ResponseRecord
from services.responses.turns import Before
from shared import errors, subjects
from shared.bus import Replier
from shared.protocol.bus import Envelope, TokenCounts
from shared.protocol.responses import (
    Compacted,
    ConversationRef,
    InputItemsQuery,
    InputTokens,
    Item,
    ItemList,
    Message,
    Response,
    ResponseCreateRequest,
    ResponseDeleted,
    ResponseFailed,
    ResponseRetrieveQuery,
    StreamEvent,
)

log = logging.getLogger("responses")
_encode = msgspec.json.Encoder().encode
_create = msgspec.json.Decoder(ResponseCreateRequest)
_retrieve = msgspec.json.Decoder(ResponseRetrieveQuery)
_response_id = msgspec.json.Decoder(str)
_input_items = msgspec.json.Decoder(InputItemsQuery)
RUNNING = ("queued", "in_progress")


def not_found(response_id: str) -> errors.ApiError:
    return errors.ApiError(404, f"Response with id '{response_id}' not found.", param="response_id",
                           code="not_found")


def _response(request: ResponseCreateRequest, tools, before: Before) -> Response:
    """The new response, as the request describes it, before any output."""
    return Response(
        id=new_id("resp_"), created_at=int(time.time()), model=request.model,
        status="queued" if request.background else "in_progress", background=bool(request.background),
        instructions=request.instructions, max_output_tokens=request.max_output_tokens,
        parallel_tool_calls=request.parallel_tool_calls is not False, previous_response_id=request.previous_response_id,
        conversation=ConversationRef(id=before.conversation.id) if before.conversation else None,
        reasoning=request.reasoning, store=request.store is not False,
        temperature=request.temperature if request.temperature is not None else 1.0,
        top_p=request.top_p if request.top_p is not None else 1.0, top_logprobs=request.top_logprobs,
        tool_choice=request.tool_choice or "auto",
        tools=tools, truncation=request.truncation or "disabled",
        user=request.user if request.user is not None else msgspec.UNSET, metadata=request.metadata or {},
        output=[], **({"text": request.text} if request.text is not None else {}))


class Responses:
    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        # Background turns running in this replica, by response id (a client's request that goes away
        # is stopped by the kit: its endpoint is cancellable).
        self._running: dict[str, asyncio.Task] = {}
        self._stopped: set[str] = set()  # of those, the ones cancelled through the API
        self._translated: set[str] = set()  # models the chat service said have no upstream Responses API

    def cancel(self, request_id: str) -> None:
        task = self._running.get(request_id)
        if task is not None:
            self._stopped.add(request_id)
            task.cancel()

    # ------------------------------------------------------------ POST /v1/responses

    async def _inputs(self, project: str, request: ResponseCreateRequest) -> tuple[list[Item], Before]:
        """The request's input items (stored form) and what comes before them."""
        given = items.parse(request.input, param="input")
        before = await self._context(project, request)
        given = [items.stored(item) for item in items.resolve(given, before.items)]
        if not given and not before.items:
            raise errors.invalid_request("Missing required parameter: 'input'.", param="input",
                                         code="missing_required_parameter")
        return given, before

    async def _prepare(self, project: str, request: ResponseCreateRequest) -> tuple[list, list[Item], Before, bytes]:
        """The request's tools, its input items (stored form), what comes before them, and the chat
        request that runs it all."""
        tools = chat_translation.function_tools(request.tools)
        given, before = await self._inputs(project, request)
        return tools, given, before, chat_translation.chat_request(request, before.items + given, tools)

    async def create(self, envelope: Envelope, replier: Replier, outcome: Outcome) -> None:
        request = bus_service.decode(_create, envelope.body)
        outcome.model, outcome.stream = request.model, bool(request.stream)
        if request.background and request.store is False:
            raise errors.invalid_request("A background response is stored: 'store' cannot be false.",
                                         param="store", code="invalid_value")
        # A model whose upstream has the Responses API gets the request as it is (tools of any type
        # included); the chat service says which have none, and those are translated from then on.
        if not request.background and request.model not in self._translated:
            try:
                return await self._create(envelope, replier, outcome, request, relay=True)
            except errors.ApiError as err:
                if err.code != errors.NOT_RESPONSES_API:
                    raise
                self._translated.add(request.model)
        await self._create(envelope, replier, outcome, request, relay=False)

    async def _create(self, envelope: Envelope, replier: Replier, outcome: Outcome, request: ResponseCreateRequest,
                      *, relay: bool) -> None:
        """Run the turn: relayed to the model's upstream Responses API, or translated to chat."""
        if relay:
            given, before = await self._inputs(envelope.project, request)
            tools, body = [], native.request(envelope.body, [*before.items, *given])
            turn = native.Turn(_response(request, tools, before))
        else:
            tools, given, before, body = await self._prepare(envelope.project, request)
            response = _response(request, tools, before)
            if request.background:
                return await self._queue(envelope, replier, outcome, response, body=body, given=given, before=before)
            turn = chat_translation.Turn(response)

        async def emit(events: list[StreamEvent]) -> None:
            if outcome.stream:
                for event in events:
                    await replier.data(_encode(event))
                    outcome.chunks += 1

        try:
            if relay:
                await turns.run(self._ctx, request_id=envelope.request_id, project=envelope.project, turn=turn,
                                body=body, given=given, before=before, emit=emit, subject=subjects.CHAT_RESPONSES)
            else:
                await self._truncating(envelope, request, tools, turn=turn, body=body, given=given, before=before,
                                       emit=emit)
        except asyncio.CancelledError:  # its client went away, or the service is stopping: the kit reports which
            await asyncio.shield(turns.stopped(self._ctx, envelope.request_id, turn.response))
            raise
        except Exception as exc:
            if not outcome.chunks:
                raise  # nothing sent yet: the error is the answer
            # The stream has begun: its end is an `error` event.
            err = exc if isinstance(exc, errors.ApiError) else errors.server_error()
            if not isinstance(exc, errors.ApiError):
                log.exception("request_id=%s: the turn of %s broke mid-stream", envelope.request_id,
                              turn.response.id)
            await replier.data(_encode(turn.error(err)))
            await replier.done()
            outcome.failed(err.status, err.code or err.type)
            return
        if turn.usage is not None:
            outcome.usage = TokenCounts(prompt_tokens=turn.usage.prompt_tokens,
                                        completion_tokens=turn.usage.completion_tokens)
        if outcome.stream:
            await replier.done(usage=outcome.usage)
        elif turn.response.status == "failed":
            raise errors.ApiError(500, turn.response.error.message, type="server_error")
        else:
            await replier.data(_encode(turn.response), usage=outcome.usage)

    async def _truncating(self, envelope: Envelope, request: ResponseCreateRequest, tools, *, turn, body: bytes,
                          given: list[Item], before: Before, emit) -> None:
        """Run the turn; with `truncation: auto`, a context too long for the model loses its oldest
        turns until it fits (what is stored stays whole: only the model reads less)."""
        context = before.items + given
        while True:
            try:
                return await turns.run(self._ctx, request_id=envelope.request_id, project=envelope.project,
                                       turn=turn, body=body, given=given, before=before, emit=emit)
            except errors.ApiError as err:
                shorter = chat_translation.without_oldest_turn(context) \
                    if request.truncation == "auto" and err.code == "context_length_exceeded" else None
                if shorter is None:
                    raise
                context = shorter
                body = chat_translation.chat_request(request, context, tools)

    async def input_tokens(self, envelope: Envelope) -> InputTokens:
        """`POST /v1/responses/input_tokens`: the model counts the request's whole input (context,
        instructions, tools) as it would for a response, generating one token."""
        request = bus_service.decode(_create, envelope.body)
        request = msgspec.structs.replace(request, max_output_tokens=1, stream=None)
        *_, body = await self._prepare(envelope.project, request)
        _, usage = await turns.complete(self._ctx, request_id=envelope.request_id, project=envelope.project, body=body)
        return InputTokens(input_tokens=usage.prompt_tokens)

    async def compact(self, envelope: Envelope) -> Compacted:
        """`POST /v1/responses/compact`: the model summarizes the context (`input`, after
        `previous_response_id`'s); the answer keeps its user messages and puts one `compaction` item,
        the summary, in place of the rest."""
        request = bus_service.decode(_create, envelope.body)
        request = msgspec.structs.replace(request, tools=None, tool_choice=None, text=None, stream=None,
                                          max_output_tokens=self._ctx.settings.compact_tokens)
        _, given, before, _ = await self._prepare(envelope.project, request)
        context = [*before.items, *given]
        body = chat_translation.chat_request(request, [*context, Message(role="user", content=compaction.SUMMARIZE)],
                                             [])
        summary, usage = await turns.complete(self._ctx, request_id=envelope.request_id, project=envelope.project,
                                              body=body)
        kept = [item for item in context if isinstance(item, Message) and item.role == "user"]
        return Compacted(id=new_id("resp_"), created_at=int(time.time()),
                         output=[*kept, items.stored(compaction.item(summary.strip()))],
                         usage=chat_translation.usage_of(usage))

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
        if previous.response.status in RUNNING:
            raise errors.invalid_request(f"Previous response with id '{previous.id}' is still in progress.",
                                         param="previous_response_id", code="invalid_value")
        found = {r.id: r for r in await table.find({"_id": {"$in": previous.chain}, "project": project})} \
            if previous.chain else {}
        before: list[Item] = []
        for record in [*(found[i] for i in previous.chain if i in found), previous]:
            before += [*record.input, *record.response.output]
        return Before(before, [*previous.chain, previous.id], None)

    # ------------------------------------------------------------ background responses

    async def _queue(self, envelope: Envelope, replier: Replier, outcome: Outcome, response: Response, *,
                     body: bytes, given: list[Item], before: Before) -> None:
        """Keep the response `queued` with the chat request that runs it, queue its turn, and answer
        the queued response (or, streamed, its events as a replica produces them). A model the
        key cannot use is the 404 now, not a failed response later."""
        await self._ctx.caller.call(subjects.MODELS_RETRIEVE, Envelope(
            request_id=envelope.request_id, project=envelope.project, body=msgspec.Raw(_encode(response.model))),
            idle_timeout=self._ctx.settings.call_idle_timeout)
        await self._ctx.tables.responses.insert(ResponseRecord(
            id=response.id, project=envelope.project, response=response, input=given, chain=before.chain,
            chat_body=body.decode(), conversation_id=before.conversation.id if before.conversation else ""))
        await background.queue(self._ctx.js, response.id)
        if outcome.stream:
            await self._follow(envelope, response.id, -1, replier, outcome)
        else:
            await replier.data(_encode(response))

    async def run_queued(self, response_id: str) -> None:
        """Run a queued background response's turn (a JetStream message: see background.py). Found
        `in_progress` instead, it was claimed by a replica that died (or stopped): it ends `failed`."""
        table, log_ = self._ctx.tables.responses, self._ctx.events
        record = await table.update({"_id": response_id, "response.status": "queued"},
                                    {"response.status": "in_progress"})
        if record is None:
            return await self._abandoned(response_id)
        log.info("background response %s: running", response_id)
        conversation = await self._ctx.tables.conversations.get({"_id": record.conversation_id}) \
            if record.conversation_id else None
        turn = chat_translation.Turn(record.response)
        self._running[response_id] = asyncio.current_task()
        try:
            await turns.run(self._ctx, request_id=response_id, project=record.project, turn=turn,
                            body=record.chat_body.encode(), given=record.input, queued=True,
                            before=Before([], record.chain, conversation),
                            emit=lambda events: log_.append(response_id, events))
        except errors.ApiError as err:  # the model failed before any output
            events = turn.fail(err)
            await table.update({"_id": response_id, "response.status": "in_progress"},
                               {"response": msgspec.to_builtins(turn.response)})
            await log_.append(response_id, events)
        except asyncio.CancelledError:
            if response_id in self._stopped:  # cancelled through the API, which ended it
                await asyncio.shield(turns.stopped(self._ctx, response_id, turn.response))
                return
            await asyncio.shield(self._abandoned(response_id, "The service stopped while running this response; "
                                                              "create it again."))
            raise
        finally:
            del self._running[response_id]
            self._stopped.discard(response_id)

    async def _abandoned(self, response_id: str,
                         message: str = "The server running this response stopped; create it again.") -> None:
        """End a response nobody runs any more `failed`, with a terminal event for its followers."""
        error = {"code": "server_error", "message": message}
        record = await self._ctx.tables.responses.update({"_id": response_id, "response.status": "in_progress"},
                                                         {"response.status": "failed", "response.error": error})
        if record is not None:
            log.warning("background response %s: %s", response_id, message)
            sequence = await self._ctx.events.next_seq(response_id)
            await self._ctx.events.append(response_id, [ResponseFailed(response=record.response,
                                                                       sequence_number=sequence)])

    async def _follow(self, envelope: Envelope, response_id: str, after: int, replier: Replier,
                      outcome: Outcome) -> None:
        """Send a background response's events after `after`, as they come, until it ends or the
        client goes away (which stops only the following, never the response)."""
        async def status() -> str:
            record = await self._ctx.tables.responses.get({"_id": response_id})
            return record.response.status if record is not None else "cancelled"

        await self._ctx.events.follow(response_id, after, replier, status=status)
        await replier.done()

    async def cancel_response(self, envelope: Envelope) -> Response:
        """`POST /v1/responses/{id}/cancel`: a background response still queued or in progress ends
        `cancelled`, and whichever replica runs it stops; one that has ended is answered as it is."""
        response_id = bus_service.decode(_response_id, envelope.body)
        record = await self._own(response_id, envelope.project)
        if not record.response.background:
            raise errors.invalid_request("Only responses created with background=true can be cancelled.",
                                         param="response_id", code="invalid_value")
        cancelled = await self._ctx.tables.responses.update(
            {"_id": response_id, "project": envelope.project, "response.status": {"$in": list(RUNNING)}},
            {"response.status": "cancelled"})
        if cancelled is None:
            return (await self._own(response_id, envelope.project)).response
        await self._ctx.nc.publish(subjects.CANCEL, response_id.encode())
        return cancelled.response

    # ------------------------------------------------------------ stored responses

    async def _own(self, response_id: str, project: str) -> ResponseRecord:
        record = await self._ctx.tables.responses.get({"_id": response_id, "project": project})
        if record is None:
            raise not_found(response_id)
        return record

    async def retrieve(self, envelope: Envelope, replier: Replier, outcome: Outcome) -> None:
        query = bus_service.decode(_retrieve, envelope.body)
        record = await self._own(query.response_id, envelope.project)
        if not query.stream:
            return await replier.data(_encode(record.response))
        if not record.response.background:
            raise errors.invalid_request("Only a background response's stream can be replayed.", param="stream",
                                         code="invalid_value")
        outcome.stream = True
        await self._follow(envelope, record.id, query.starting_after, replier, outcome)

    async def delete(self, envelope: Envelope) -> ResponseDeleted:
        response_id = bus_service.decode(_response_id, envelope.body)
        if not await self._ctx.tables.responses.delete({"_id": response_id, "project": envelope.project}):
            raise not_found(response_id)
        await self._ctx.events.delete(response_id)
        return ResponseDeleted(id=response_id)

    async def input_items(self, envelope: Envelope) -> ItemList:
        query = bus_service.decode(_input_items, envelope.body)
        record = await self._own(query.response_id, envelope.project)
        return items.page(record.input, query, budget=self._ctx.page_budget)

