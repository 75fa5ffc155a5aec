"""Background responses as durable work on the kit's JetStream queue (services/kit/tasks.py): each
is a task on the work-queue stream `subjects.RESPONSES_STREAM`, shared by every replica, acked when
its turn has ended. While a turn runs its replica reports progress; a replica that dies stops
reporting, and after `ack_wait` JetStream hands the task to another, which finds the response
`in_progress` with nobody running it and ends it `failed` (see `Responses.run_queued`).
"""

from collections.abc import Awaitable, Callable

import msgspec
from nats.js import JetStreamContext

from services.kit import tasks
from shared import subjects

QUEUE = tasks.Queue(subjects.RESPONSES_STREAM, subjects.RESPONSES_TASKS)
KIND = "turn"


class Turn(msgspec.Struct):
    response_id: str


_decode = msgspec.json.Decoder(Turn).decode


async def ensure_stream(js: JetStreamContext) -> None:
    await QUEUE.ensure_stream(js)


async def queue(js: JetStreamContext, response_id: str) -> None:
    """Queue the turn of `response_id` (once: the id names the task)."""
    await QUEUE.publish(js, KIND, "run", Turn(response_id), msg_id=response_id)


def worker(js: JetStreamContext, run: Callable[[str], Awaitable[None]], *, concurrency: int,
           ack_wait: float) -> tasks.Worker:
    """Runs queued turns, at most `concurrency` at once in this replica: `run(response_id)`."""

    async def handle(step: str, data: bytes) -> None:
        await run(_decode(data).response_id)

    return tasks.Worker(js, QUEUE, KIND, handle, concurrency=concurrency, ack_wait=ack_wait)
