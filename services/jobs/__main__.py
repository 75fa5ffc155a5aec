"""`python -m services.jobs`: serve /v1/batches (and the other jobs) on the bus and run their
durable work from JetStream until SIGINT/SIGTERM. Any number of replicas share the work."""

import aiohttp

from services.kit.service import until_signalled
from services.jobs import tasks
from services.jobs.context import Context
from services.jobs.files_client import Files
from services.jobs.database import Store
from services.jobs.service import DOMAINS, JobsService
from services.jobs.settings import JobsSettings
from shared import bus, logs, runtime
from shared.settings import from_env

# Room left in a bus message for the envelope around a list page.
PAGE_MARGIN = 64 * 1024


async def main(settings: JobsSettings) -> None:
    log = logs.setup("jobs", settings.log_level)
    store = Store(settings.mongo_url)
    nc = await bus.connect(settings.nats_url, name="vivian-jobs", credentials=settings.nats_credentials)
    caller = bus.Caller(nc)
    await caller.start()
    js = nc.jetstream()
    await tasks.ensure_stream(js)
    # No total timeout on object-store transfers (a big file takes as long as it takes), but a
    # store that stops answering fails the transfer and the task is retried.
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=120)
    async with aiohttp.ClientSession(timeout=timeout, auto_decompress=False) as http:
        files = Files(caller, http, timeout=settings.call_timeout, idle_timeout=settings.call_idle_timeout)
        ctx = Context(nc=nc, js=js, caller=caller, store=store, files=files, settings=settings,
                      page_budget=max(nc.max_payload - PAGE_MARGIN, 16 * 1024))
        running = [part for domain in DOMAINS for part in await domain.start(ctx)]
        service = JobsService(nc, ctx, heartbeat_interval=settings.heartbeat_interval)
        await service.start()
        runtime.settle()
        log.info("serving jobs on %s", settings.nats_url)
        await until_signalled()
        log.info("stopping")
        await service.stop(drain_timeout=settings.drain_timeout)
        for part in reversed(running):
            await part.stop()
    await caller.stop()
    await bus.close(nc)
    await store.close()


def run() -> None:
    import uvloop

    uvloop.run(main(from_env(JobsSettings)))


if __name__ == "__main__":
    run()
