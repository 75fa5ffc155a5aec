"""The jobs service's parts: the records, the JetStream work queue, each domain's workers and
sweeps, and the service."""

from contextlib import asynccontextmanager

import aiohttp

from services.jobs import tasks
from services.jobs.context import Context
from services.jobs.service import DOMAINS, JobsService
from services.kit.files_client import Files
from services.kit.main import Startup
from services.kit.tables import Database
from shared import bus, telemetry


@asynccontextmanager
async def parts(startup: Startup):
    settings = startup.settings
    store = Database(settings.mongo_url)
    caller = bus.Caller(startup.nc)
    await caller.start()
    js = startup.nc.jetstream()
    await tasks.ensure_stream(js)
    # No total timeout on object-store transfers (a big file takes as long as it takes), but a
    # store that stops answering fails the transfer and the task is retried.
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=120)
    running = []
    try:
        async with aiohttp.ClientSession(timeout=timeout, auto_decompress=False) as http:
            files = Files(caller, http, timeout=settings.call_timeout, idle_timeout=settings.call_idle_timeout)
            ctx = Context(nc=startup.nc, js=js, caller=caller, store=store, files=files, settings=settings,
                          page_budget=startup.page_budget, tracer=telemetry.tracer(startup.tracing, "vivian.jobs"))
            for domain in DOMAINS:
                running += await domain.start(ctx)
            yield JobsService(startup.nc, ctx, heartbeat_interval=settings.heartbeat_interval)
    finally:
        for part in reversed(running):
            await part.stop()
        await caller.stop()
        await store.close()
