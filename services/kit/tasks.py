"""Durable work in JetStream, for every service that has some (jobs, vector stores): a `Queue` is
one work-queue stream of tasks (`<prefix>.<kind>.<step>`), with a durable pull consumer per kind
of work (`batches`, `fine_tuning`, `ingest`) that every replica of the service shares.

A task is acked only once its handler returns; a replica that dies mid-task stops reporting
progress, so after `ack_wait` seconds JetStream hands the task to another replica. Handlers are
therefore written to be re-run: whatever they record, they record idempotently.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import msgspec
import nats.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError

from shared.bus import BUS_DOWN

log = logging.getLogger("tasks")

DUPLICATE_WINDOW = 600.0  # seconds JetStream drops a second publish with the same Nats-Msg-Id
FETCH_WAIT = 5.0  # seconds one pull waits for a task
MAX_RETRY_DELAY = 30.0

# (the task subject's last token, the task's bytes): run it; raise to have it redelivered later
TaskHandler = Callable[[str, bytes], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Queue:
    """A work-queue stream: its name, and the subject prefix of its tasks."""

    stream: str
    prefix: str

    def subject(self, kind: str, step: str) -> str:
        return f"{self.prefix}.{kind}.{step}"

    async def ensure_stream(self, js: JetStreamContext) -> None:
        config = StreamConfig(name=self.stream, subjects=[f"{self.prefix}.>"], retention=RetentionPolicy.WORK_QUEUE,
                              storage=StorageType.FILE, duplicate_window=DUPLICATE_WINDOW)
        try:
            await js.add_stream(config)
        except BadRequestError:  # there already, with another configuration (an older version's)
            await js.update_stream(config)

    async def publish(self, js: JetStreamContext, kind: str, step: str, task: msgspec.Struct, *, msg_id: str) -> None:
        """Queue a task; `msg_id` names it, so publishing it again (a retried step) queues it once."""
        await js.publish(self.subject(kind, step), msgspec.json.encode(task), stream=self.stream,
                         headers={"Nats-Msg-Id": msg_id})


class Retry(Exception):
    """Raised by a handler: not now, try this task again in `delay` seconds."""

    def __init__(self, delay: float) -> None:
        super().__init__(delay)
        self.delay = delay


class Worker:
    """Runs the tasks of one kind, at most `concurrency` at a time in this replica."""

    def __init__(self, js: JetStreamContext, queue: Queue, kind: str, handle: TaskHandler, *, concurrency: int,
                 ack_wait: float) -> None:
        self._js, self._queue, self._kind, self._handle = js, queue, kind, handle
        self._concurrency, self._ack_wait = concurrency, ack_wait
        self._loop_task: asyncio.Task | None = None
        self._running: set[asyncio.Task] = set()

    async def start(self) -> None:
        # Created or updated (so a changed `ack_wait` applies), then shared by every replica.
        config = ConsumerConfig(durable_name=self._kind, filter_subject=self._queue.subject(self._kind, ">"),
                                ack_policy=AckPolicy.EXPLICIT, ack_wait=self._ack_wait, max_deliver=-1,
                                max_ack_pending=-1)
        await self._js.add_consumer(self._queue.stream, config)
        sub = await self._js.pull_subscribe_bind(durable=self._kind, stream=self._queue.stream)
        self._loop_task = asyncio.create_task(self._pull(sub))

    async def stop(self) -> None:
        """Stop pulling; running tasks are cancelled and handed back at once (nak), so another
        replica takes them without waiting out `ack_wait`."""
        if self._loop_task is not None:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
        for task in list(self._running):
            task.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)

    async def _pull(self, sub: JetStreamContext.PullSubscription) -> None:
        slots = asyncio.Semaphore(self._concurrency)
        failing = False  # one line when pulls start failing (the bus is down), one when they work again
        while True:
            await slots.acquire()
            try:
                msgs = await sub.fetch(1, timeout=FETCH_WAIT)
            except nats.errors.TimeoutError:
                slots.release()
                if failing:
                    failing = False
                    log.info("pulling %s tasks again", self._kind)
                continue
            except asyncio.CancelledError:
                raise
            except BUS_DOWN:  # the connection is down: shared.bus logged that once already
                slots.release()
                await asyncio.sleep(1.0)
                continue
            except Exception as err:
                slots.release()
                if not failing:
                    failing = True
                    log.warning("could not pull %s tasks (%s: %s); retrying every second", self._kind,
                                type(err).__name__, err)
                await asyncio.sleep(1.0)
                continue
            if failing:
                failing = False
                log.info("pulling %s tasks again", self._kind)
            if not msgs:
                slots.release()
                continue
            task = asyncio.create_task(self._run(msgs[0], slots))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _run(self, msg: Msg, slots: asyncio.Semaphore) -> None:
        progress = asyncio.create_task(self._in_progress(msg))
        step = msg.subject.rsplit(".", 1)[-1]
        try:
            await self._handle(step, msg.data)
            await msg.ack()
        except Retry as retry:
            await msg.nak(delay=retry.delay)
        except asyncio.CancelledError:
            await asyncio.shield(self._nak(msg, 0))
            raise
        except Exception:
            delivered = msg.metadata.num_delivered if msg.metadata else 1
            log.exception("%s task %s failed (delivery %d); it will be retried", self._kind, msg.subject, delivered)
            await self._nak(msg, min(MAX_RETRY_DELAY, 2.0 ** min(delivered, 5)))
        finally:
            progress.cancel()
            slots.release()

    async def _in_progress(self, msg: Msg) -> None:
        while True:
            await asyncio.sleep(self._ack_wait / 3)
            try:
                await msg.in_progress()
            except Exception:
                log.debug("progress not reported", exc_info=True)

    @staticmethod
    async def _nak(msg: Msg, delay: float) -> None:
        try:
            await msg.nak(delay=delay)
        except Exception:  # the connection is gone: JetStream redelivers after ack_wait anyway
            log.debug("nak not sent", exc_info=True)
