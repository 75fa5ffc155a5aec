"""The images service's parts: its models, the object store, the sweep, and the service."""

from contextlib import asynccontextmanager

from services.images.registry import images_registry
from services.images.service import ImagesService
from services.kit.main import Startup
from services.kit.objects import ObjectStore
from services.kit.sweeper import Sweeper


@asynccontextmanager
async def parts(startup: Startup):
    settings = startup.settings
    store = ObjectStore.from_settings(settings)
    await store.ensure_bucket()
    registry = images_registry(startup.model_config(), tracer_provider=startup.tracing)
    await registry.start()
    service = ImagesService(startup.nc, registry, store, settings, tracer_provider=startup.tracing)
    sweeper = Sweeper("images", service.sweep, settings.sweep_interval).start()
    startup.log.info("%d image model ids; objects in %s/%s", len(registry.serving()), settings.s3_endpoint,
                     settings.s3_bucket)
    try:
        yield service
    finally:
        await sweeper.stop()
        await registry.close()
