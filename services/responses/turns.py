"""One model turn of a response: its chat request sent to the chat service over the bus, the chunks
that come back turned into events (`chat_translation.Turn`; or, for an upstream that has the
Responses API, its request and relayed events: `native.Turn`) and handed to `emit`, and the response
stored with its outcome before the terminal event goes out, so a `previous_response_id` sent right
after a turn always finds it.

The same run serves a client that waits (its events go to the client's stream) and a background
response (its events go to the event log, which any replica can follow).
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import msgspec

from services.responses import chat_translation, conversations
from services.responses.context import Context
from services.responses.tables import ConversationRecord, ResponseRecord
from shared import errors, subjects
from shared.bus import BusUnavailable, NoResponders
from shared.protocol.bus import Data, Done, Envelope, Failure
from shared.protocol.chat import ChatCompletionChunk, Usage
from shared.protocol.responses import Item, Response, StreamEvent

log = logging.getLogger("responses")
_chunk = msgspec.json.Decoder(ChatCompletionChunk).decode

Emit = Callable[[list[StreamEvent]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Before:
    """What a turn reads before it runs: the items before its input, the ids of the stored
    responses they come from, and the conversation it continues."""

    items: list[Item]
    chain: list[str]
    conversation: ConversationRecord | None


async def run(ctx: Context, *, request_id: str, project: str, turn: chat_translation.Turn, body: bytes,
              given: list[Item], before: Before, emit: Emit, queued: bool = False,
              subject: str = subjects.CHAT_COMPLETIONS) -> None:
    """Run `turn` (its chat request `body`; or, `subject` `CHAT_RESPONSES`, a `native.Turn` and its
    Responses request) for `project`. A stored response is written once the
    model has taken the request (`queued`: it was written when it was queued, and is claimed
    already), and again at its end. Raises `ApiError` when the model fails before any output."""
    settings, store = ctx.settings, turn.response.store
    call = Envelope(request_id=request_id, project=project, body=msgspec.Raw(body))
    frames = ctx.caller.frames(subject, call, idle_timeout=settings.call_idle_timeout)
    async with asyncio.timeout(settings.call_timeout), contextlib.aclosing(frames):
        frame = await _first(frames)
        # The model has taken the request: from here on, the response exists.
        alive = None
        if store and not queued:
            await ctx.tables.responses.insert(ResponseRecord(
                id=turn.response.id, project=project, response=turn.response, input=given, chain=before.chain,
                alive_until=time.time() + settings.lease))
            alive = asyncio.create_task(_keep_alive(ctx, turn.response.id))
        try:
            final = await _chunks(turn, frame, frames, emit)
        finally:
            if alive is not None:
                alive.cancel()
    response = turn.response
    if store:
        # Only while it is in progress: a cancel (or a replica that took over) has the last word.
        await ctx.tables.responses.update({"_id": response.id, "response.status": "in_progress"},
                                          {"response": msgspec.to_builtins(response)})
    if before.conversation is not None and response.status != "failed":
        await conversations.append(ctx, before.conversation, [*given, *response.output])
    await emit(final)


async def _chunks(turn: chat_translation.Turn, frame, frames, emit: Emit) -> list[StreamEvent]:
    """Emit the events of the frames from `frame` on; the final ones, still to send."""
    await emit(turn.start())
    while True:
        match frame:
            case Data():
                await emit(turn.data(frame.body))
            case Done():
                return turn.finish()
            case Failure():
                return turn.fail(errors.ApiError.from_object(frame.status, frame.error))
        try:
            frame = await anext(frames)
        except (TimeoutError, NoResponders, StopAsyncIteration):
            return turn.fail(errors.ApiError(502, "The model stopped answering in the middle of the response.",
                                             type="server_error"))


async def _keep_alive(ctx: Context, response_id: str) -> None:
    while True:
        await asyncio.sleep(ctx.settings.lease / 3)
        try:
            await ctx.tables.responses.update({"_id": response_id, "response.status": "in_progress"},
                                              {"alive_until": time.time() + ctx.settings.lease})
        except Exception:
            log.warning("could not renew the lease of %s", response_id, exc_info=True)


async def complete(ctx: Context, *, request_id: str, project: str, body: bytes) -> tuple[str, Usage]:
    """A chat request's whole text and usage, for a call that is not a response (counting input
    tokens, compacting a context)."""
    call = Envelope(request_id=request_id, project=project, body=msgspec.Raw(body))
    frames = ctx.caller.frames(subjects.CHAT_COMPLETIONS, call, idle_timeout=ctx.settings.call_idle_timeout)
    text, usage = [], None
    async with asyncio.timeout(ctx.settings.call_timeout), contextlib.aclosing(frames):
        frame = await _first(frames)
        while not isinstance(frame, Done):
            if isinstance(frame, Failure):
                raise errors.ApiError.from_object(frame.status, frame.error)
            chunk = _chunk(frame.body)
            usage = chunk.usage if isinstance(chunk.usage, Usage) else usage
            text += [c.delta.content for c in chunk.choices if c.index == 0 and c.delta.content]
            frame = await anext(frames)
    if usage is None:
        raise errors.server_error("The model did not report its usage.")
    return "".join(text), usage


async def stopped(ctx: Context, request_id: str, response: Response, *, status: str = "cancelled",
                  error: dict | None = None) -> Response | None:
    """The turn was stopped (its client went away, a cancel, the service stopping): the model
    stops too, and a stored response ends `status` rather than staying `in_progress`. The record
    as it ended, if this call ended it."""
    try:
        await ctx.nc.publish(subjects.CANCEL, request_id.encode())
        if response.store:
            change = {"response.status": status, **({"response.error": error} if error else {})}
            record = await ctx.tables.responses.update({"_id": response.id, "response.status": "in_progress"}, change)
            return record.response if record is not None else None
    except Exception:
        log.warning("request_id=%s: could not record the stop of %s", request_id, response.id, exc_info=True)
    return None


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
