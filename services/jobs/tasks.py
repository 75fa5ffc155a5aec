"""The jobs service's durable work: one JetStream work-queue stream (`subjects.JOBS_STREAM`), a
durable pull consumer per kind of job (`batches`, `fine_tuning`); the machinery is the kit's
(services/kit/tasks.py)."""

import msgspec
from nats.js import JetStreamContext

from services.kit import tasks
from services.kit.tasks import Retry, TaskHandler
from shared import subjects

QUEUE = tasks.Queue(subjects.JOBS_STREAM, subjects.JOBS_TASKS)

__all__ = ["QUEUE", "Retry", "Worker", "ensure_stream", "publish"]


async def ensure_stream(js: JetStreamContext) -> None:
    await QUEUE.ensure_stream(js)


async def publish(js: JetStreamContext, kind: str, step: str, task: msgspec.Struct, *, msg_id: str) -> None:
    await QUEUE.publish(js, kind, step, task, msg_id=msg_id)


class Worker(tasks.Worker):
    """Runs the jobs of one kind (see services/kit/tasks.py)."""

    def __init__(self, js: JetStreamContext, kind: str, handle: TaskHandler, *, concurrency: int,
                 ack_wait: float) -> None:
        super().__init__(js, QUEUE, kind, handle, concurrency=concurrency, ack_wait=ack_wait)
