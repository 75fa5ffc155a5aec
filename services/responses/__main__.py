"""`python -m services.responses`: serve /v1/responses and /v1/conversations on the bus until
SIGINT/SIGTERM. Any number of replicas share the work: their state is in MongoDB."""

from services.kit.main import until_signalled
from services.responses import background
from services.responses.events import EventLog
from services.responses.context import Context
from services.responses.service import ResponsesService
from services.responses.settings import ResponsesSettings
from services.responses.tables import Tables
from shared import bus, logs, runtime
from shared.settings import from_env

# Room left in a bus message for the envelope around a list page.
PAGE_MARGIN = 64 * 1024


async def main(settings: ResponsesSettings) -> None:
    log = logs.setup("responses", settings.log_level)
    tables = Tables(settings.mongo_url)
    await tables.ensure_indexes()
    nc = await bus.connect(settings.nats_url, name="vivian-responses", credentials=settings.nats_credentials)
    caller = bus.Caller(nc)
    await caller.start()
    js = nc.jetstream()
    await background.ensure_stream(js)
    ctx = Context(nc=nc, js=js, caller=caller, tables=tables, events=EventLog(tables.events, poll=settings.stream_poll),
                  settings=settings, page_budget=max(nc.max_payload - PAGE_MARGIN, 16 * 1024))
    service = ResponsesService(nc, ctx, heartbeat_interval=settings.heartbeat_interval)
    await service.start()
    worker = background.Worker(js, service.responses.run_queued, concurrency=settings.background_workers,
                               ack_wait=settings.ack_wait)
    await worker.start()
    runtime.settle()
    log.info("serving responses on %s", settings.nats_url)
    await until_signalled()
    log.info("stopping")
    await worker.stop()
    await service.stop(drain_timeout=settings.drain_timeout)
    await caller.stop()
    await bus.close(nc)
    await tables.close()


def run() -> None:
    import uvloop

    uvloop.run(main(from_env(ResponsesSettings)))


if __name__ == "__main__":
    run()
