"""`python -m services.files`: serve /v1/files and /v1/uploads on the bus until SIGINT/SIGTERM."""

import asyncio

from services.kit.service import until_signalled
from services.files import janitor
from services.files.context import Context
from services.files.objects import ObjectStore
from services.files.tables import Records
from services.files.service import FilesService
from services.files.settings import FilesSettings
from shared import bus, logs
from shared.settings import from_env

# Room left in a bus message for the envelope around a list page.
PAGE_MARGIN = 64 * 1024


async def main(settings: FilesSettings) -> None:
    log = logs.setup("files", settings.log_level)
    objects = ObjectStore(endpoint=settings.s3_endpoint, access_key=settings.s3_access_key,
                          secret_key=settings.s3_secret_key, bucket=settings.s3_bucket, region=settings.s3_region)
    await objects.ensure_bucket()
    records = Records(settings.mongo_url)
    await records.ensure_indexes()
    nc = await bus.connect(settings.nats_url, name="vivian-files", credentials=settings.nats_credentials)
    ctx = Context(objects=objects, records=records, settings=settings,
                  page_budget=max(nc.max_payload - PAGE_MARGIN, 16 * 1024))
    service = FilesService(nc, ctx, heartbeat_interval=settings.heartbeat_interval)
    await service.start()
    sweeper = asyncio.create_task(janitor.run(ctx, settings.sweep_interval))
    log.info("serving files on %s (objects %s/%s)", settings.nats_url, settings.s3_endpoint, settings.s3_bucket)
    await until_signalled()
    log.info("stopping")
    sweeper.cancel()
    await asyncio.gather(sweeper, return_exceptions=True)
    await service.stop(drain_timeout=settings.drain_timeout)
    await bus.close(nc)
    await records.close()


def run() -> None:
    import uvloop

    uvloop.run(main(from_env(FilesSettings)))


if __name__ == "__main__":
    run()
