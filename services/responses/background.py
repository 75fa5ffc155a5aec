"""Background responses as durable work: each is a JetStream message (work-queue stream
`subjects.RESPONSES_STREAM`, one durable pull consumer shared by every replica), acked when its
turn has ended. While a turn runs its replica reports progress (`msg.in_progress()`); a replica
that dies stops reporting, and after `ack_wait` JetStream hands the message to another, which finds
the response `in_progress` with nobody running it and ends it `failed` (see `Responses.run_queued`).
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable

import nats.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError

from shared import subjects
from shared.bus import BUS_DOWN

log = logging.getLogger("responses")

CONSUMER = "responses"
FETCH_WAIT = 5.0  # seconds one pull waits for work


async def ensure_stream(js: JetStreamContext) -> None:
    config = StreamConfig(name=subjects.RESPONSES_STREAM, subjects=[f"{subjects.RESPONSES_TASKS}.>"],
                          retention=RetentionPolicy.WORK_QUEUE, storage=StorageType.FILE, duplicate_window=600.0)
    try:
        await js.add_stream(config)
    except BadRequestError:  # there already, with another configuration (an older version's)
        await js.update_stream(config)


async def queue(js: JetStreamContext, response_id: str) -> None:
    """Queue the turn of `response_id` (once: the id names the message)."""
    await js.publish(f"{subjects.RESPONSES_TASKS}.run", response_id.encode(), stream=subjects.RESPONSES_STREAM,
                     headers={"Nats-Msg-Id": response_id})


class Worker:
    """Runs queued turns, at most `concurrency` at once in this replica: `run(response_id)`."""

    def __init__(self, js: JetStreamContext, run: Callable[[str], Awaitable[None]], *, concurrency: int,
                 ack_wait: float) -> None:
        self._js, self._run = js, run
        self._slots = asyncio.Semaphore(concurrency)
        self._ack_wait = ack_wait
        self._loop: asyncio.Task | None = None
        self._running: set[asyncio.Task] = set()

    async def start(self) -> None:
        config = ConsumerConfig(durable_name=CONSUMER, ack_policy=AckPolicy.EXPLICIT, ack_wait=self._ack_wait,
                                max_deliver=-1, max_ack_pending=-1)
        await self._js.add_consumer(subjects.RESPONSES_STREAM, config)
        sub = await self._js.pull_subscribe_bind(durable=CONSUMER, stream=subjects.RESPONSES_STREAM)
        self._loop = asyncio.create_task(self._pull(sub))

    async def stop(self) -> None:
        """Stop pulling; running turns are cancelled (and end `cancelled` or `failed`)."""
        if self._loop is not None:
            self._loop.cancel()
            await asyncio.gather(self._loop, return_exceptions=True)
        for task in list(self._running):
            task.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)

    async def _pull(self, sub) -> None:
        while True:
            await self._slots.acquire()
            try:
                msgs = await sub.fetch(1, timeout=FETCH_WAIT)
            except asyncio.CancelledError:
                raise
            except (nats.errors.TimeoutError, *BUS_DOWN):
                msgs = []
            except Exception as err:
                log.warning("could not pull background responses (%s: %s)", type(err).__name__, err)
                msgs = []
                await asyncio.sleep(1.0)
            if not msgs:
                self._slots.release()
                continue
            task = asyncio.create_task(self._one(msgs[0]))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _one(self, msg: Msg) -> None:
        progress = asyncio.create_task(self._in_progress(msg))
        try:
            await self._run(msg.data.decode())
            await msg.ack()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("background response %s failed; it will be retried", msg.data.decode())
            try:
                await msg.nak(delay=2.0)
            except Exception:  # JetStream redelivers after ack_wait anyway
                pass
        finally:
            progress.cancel()
            self._slots.release()

    async def _in_progress(self, msg: Msg) -> None:
        while True:
            await asyncio.sleep(self._ack_wait / 3)
            try:
                await msg.in_progress()
            except Exception:
                log.debug("progress not reported", exc_info=True)
