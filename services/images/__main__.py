"""`python -m services.images`: serve /v1/images/* on the bus until SIGINT/SIGTERM."""

import asyncio
import logging

from services.kit.service import until_signalled
from services.files.objects import ObjectStore
from services.images.registry import images_registry
from services.images.service import ImagesService
from services.images.settings import ImagesSettings
from shared import bus, logs, modelconfig, runtime, telemetry
from shared.settings import from_env


async def _sweep(service: ImagesService, interval: float) -> None:
    log = logging.getLogger("images")
    while True:
        try:
            await service.sweep()
        except Exception:  # the store is down for a moment: the next sweep tries again
            log.warning("sweep failed", exc_info=True)
        await asyncio.sleep(interval)


async def main(settings: ImagesSettings) -> None:
    log = logs.setup("images", settings.log_level)
    tracing = telemetry.provider_from_env("vivian-images")
    store = ObjectStore(endpoint=settings.s3_endpoint, access_key=settings.s3_access_key,
                        secret_key=settings.s3_secret_key, bucket=settings.s3_bucket, region=settings.s3_region)
    await store.ensure_bucket()
    registry = images_registry(modelconfig.load(settings.models or None), tracer_provider=tracing)
    await registry.start()
    nc = await bus.connect(settings.nats_url, name="vivian-images", credentials=settings.nats_credentials)
    service = ImagesService(nc, registry, store, settings, tracer_provider=tracing)
    await service.start()
    sweeper = asyncio.create_task(_sweep(service, settings.sweep_interval))
    runtime.settle()
    log.info("serving %d image model ids on %s (objects %s/%s)", len(registry.serving()), settings.nats_url,
             settings.s3_endpoint, settings.s3_bucket)
    await until_signalled()
    log.info("stopping")
    sweeper.cancel()
    await asyncio.gather(sweeper, return_exceptions=True)
    await service.stop(drain_timeout=settings.drain_timeout)
    await bus.close(nc)
    await registry.close()
    telemetry.shutdown(tracing)


if __name__ == "__main__":
    import uvloop

    uvloop.run(main(from_env(ImagesSettings)))
