"""The stream events of background responses, kept in MongoDB (`response_events`, one record per
event, keyed by response id and `sequence_number`), so any replica can replay a stream or follow
one that another replica is producing (`GET /v1/responses/{id}?stream=true&starting_after=N`)."""

import asyncio

import msgspec
from pymongo.errors import DuplicateKeyError

from services.kit.tables import Table
from shared.bus import Replier
from shared.protocol.responses import ErrorEvent, ResponseCompleted, ResponseFailed, ResponseIncomplete, StreamEvent

_encode = msgspec.json.Encoder().encode
TERMINAL = (ResponseCompleted, ResponseIncomplete, ResponseFailed, ErrorEvent)
ENDED = ("completed", "incomplete", "failed", "cancelled")


class EventRecord(msgspec.Struct, kw_only=True, rename={"id": "_id"}):
    id: str  # `<response id>/<sequence number, 9 digits>`
    response_id: str
    seq: int
    event: str  # the event's JSON, as it is sent
    last: bool = False  # a terminal event: nothing follows it


class EventLog:
    def __init__(self, table: Table[EventRecord], *, poll: float) -> None:
        self._table, self._poll = table, poll

    async def append(self, response_id: str, events: list[StreamEvent]) -> None:
        """Keep `events`; one kept already (a step run twice) is kept once."""
        for event in events:
            try:
                await self._table.insert(EventRecord(id=f"{response_id}/{event.sequence_number:09d}",
                                                     response_id=response_id, seq=event.sequence_number,
                                                     event=_encode(event).decode(), last=isinstance(event, TERMINAL)))
            except DuplicateKeyError:
                pass

    async def next_seq(self, response_id: str) -> int:
        found = await self._table.find({"response_id": response_id}, sort=[("seq", -1)], limit=1)
        return found[0].seq + 1 if found else 0

    async def delete(self, response_id: str) -> None:
        await self._table.delete({"response_id": response_id})

    async def follow(self, response_id: str, after: int, replier: Replier, *, status) -> None:
        """Send the events after `after`, then those still to come, until the terminal one (or the
        response has ended without one: cancelled). `status()` reads the response's status."""
        while True:
            found = await self._table.find({"response_id": response_id, "seq": {"$gt": after}}, sort=[("seq", 1)],
                                           limit=500)
            for record in found:
                await replier.data(record.event.encode())
                after = record.seq
                if record.last:
                    return
            if not found:
                if await status() in ENDED:
                    # One last look: the end may have been written just before the status.
                    if not await self._table.find({"response_id": response_id, "seq": {"$gt": after}}, limit=1):
                        return
                    continue
                await asyncio.sleep(self._poll)
