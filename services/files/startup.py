"""The files service's parts: the object store, the records, the sweep, and the service."""

from contextlib import asynccontextmanager

from services.files import janitor
from services.files.context import Context
from services.files.service import FilesService
from services.files.tables import Records
from services.kit.main import Startup
from services.kit.objects import ObjectStore
from services.kit.sweeper import Sweeper


@asynccontextmanager
async def parts(startup: Startup):
    settings = startup.settings
    objects = ObjectStore.from_settings(settings)
    await objects.ensure_bucket()
    records = Records(settings.mongo_url)
    await records.ensure_indexes()
    ctx = Context(objects=objects, records=records, settings=settings, page_budget=startup.page_budget)
    sweeper = Sweeper("files", lambda: janitor.sweep(ctx), settings.sweep_interval).start()
    startup.log.info("objects in %s/%s", settings.s3_endpoint, settings.s3_bucket)
    try:
        yield FilesService(startup.nc, ctx, heartbeat_interval=settings.heartbeat_interval)
    finally:
        await sweeper.stop()
        await records.close()
