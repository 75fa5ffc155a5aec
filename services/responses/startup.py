"""The responses service's parts: its records, the chat service as a caller, the background
responses' work queue, the sweep, and the service."""

from contextlib import asynccontextmanager

from services.kit.main import Startup
from services.kit.sweeper import Sweeper
from services.responses import background, janitor
from services.responses.context import Context
from services.responses.events import EventLog
from services.responses.service import ResponsesService
from services.responses.tables import Tables
from shared import bus


@asynccontextmanager
async def parts(startup: Startup):
    settings = startup.settings
    tables = Tables(settings.mongo_url)
    await tables.ensure_indexes()
    caller = bus.Caller(startup.nc)
    await caller.start()
    js = startup.nc.jetstream()
    await background.ensure_stream(js)
    ctx = Context(nc=startup.nc, js=js, caller=caller, tables=tables,
                  events=EventLog(tables.events, poll=settings.stream_poll), settings=settings,
                  page_budget=startup.page_budget)
    service = ResponsesService(startup.nc, ctx, heartbeat_interval=settings.heartbeat_interval)
    worker = background.worker(js, service.responses.run_queued, concurrency=settings.background_workers,
                               ack_wait=settings.ack_wait)
    await worker.start()
    sweeper = Sweeper("responses", lambda: janitor.sweep(ctx), settings.sweep_interval).start()
    try:
        yield service
    finally:
        await sweeper.stop()
        await worker.stop()
        await caller.stop()
        await tables.close()
