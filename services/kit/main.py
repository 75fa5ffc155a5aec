"""Start-up and shutdown, the same for every service (`python -m services.<name>`).

`run(name, settings_type, parts)`: the settings from `VIVIAN_<FIELD>` environment variables, the
log, tracing, the bus connection; then `parts(startup)`, an async context manager that builds what
the service needs (stores, models, background work) and yields its `BusService`. The service
serves until SIGINT/SIGTERM, then drains (`drain_timeout`), and the parts close in reverse order.
"""

import asyncio
import logging
import signal
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import msgspec
from nats.aio.client import Client
from opentelemetry.trace import TracerProvider

from services.kit.service import BusService
from shared import bus, logs, modelconfig, runtime, telemetry
from shared.settings import from_env

# Room left in a bus message for the frame and headers around a list page.
PAGE_MARGIN = 64 * 1024


class ServiceSettings(msgspec.Struct, kw_only=True):
    """What every service reads (see README, "Settings"); a service's own settings subclass it."""

    nats_url: str = "nats://127.0.0.1:4222"
    nats_credentials: str = ""  # path of this role's NATS credentials file (mode 600); empty: no auth
    heartbeat_interval: float = 1.0  # seconds of silence before a call gets a heartbeat frame
    drain_timeout: float = 20.0  # on SIGTERM, seconds running requests get to finish
    log_level: str = "info"


class ModelServiceSettings(ServiceSettings, kw_only=True):
    """A model service's settings (chat, embeddings, audio, images)."""

    models: str = ""  # path of the model config file; config/models.toml when empty


@dataclass(frozen=True, slots=True)
class Startup:
    """What a service's parts are built from."""

    name: str
    settings: Any  # the service's settings struct
    nc: Client
    tracing: TracerProvider | None
    log: logging.Logger

    @property
    def page_budget(self) -> int:
        return page_budget(self.nc)

    def model_config(self) -> modelconfig.ModelConfig:
        return modelconfig.load(self.settings.models or None)


def page_budget(nc: Client) -> int:
    """Bytes a list page may take: an answer rides one NATS message (max_payload)."""
    return max(nc.max_payload - PAGE_MARGIN, 16 * 1024)


Parts = Callable[[Startup], AbstractAsyncContextManager[BusService]]


def model_parts(make_registry: Callable, make_service: Callable) -> Parts:
    """The parts of a model service (chat, embeddings, audio): its models, loaded from the model
    config by `make_registry(config, tracer_provider)`, and `make_service(nc, registry,
    tracer_provider, settings)`."""

    @asynccontextmanager
    async def parts(startup: Startup):
        registry = make_registry(startup.model_config(), startup.tracing)
        await registry.start()
        startup.log.info("%d model ids", len(registry.models.data))
        try:
            yield make_service(startup.nc, registry, startup.tracing, startup.settings)
        finally:
            await registry.close()

    return parts


def run(name: str, settings_type: type[ServiceSettings], parts: Parts) -> None:
    import uvloop

    uvloop.run(serve(name, from_env(settings_type), parts))


async def serve(name: str, settings: ServiceSettings, parts: Parts) -> None:
    log = logs.setup(name, settings.log_level)
    tracing = telemetry.provider_from_env(f"vivian-{name}")
    nc = await bus.connect(settings.nats_url, name=f"vivian-{name}", credentials=settings.nats_credentials)
    try:
        async with parts(Startup(name, settings, nc, tracing, log)) as service:
            await service.start()
            runtime.settle()
            log.info("serving %s (%s) on %s", name, service.description, settings.nats_url)
            await until_signalled()
            log.info("stopping")
            await service.stop(drain_timeout=settings.drain_timeout)
    finally:
        await bus.close(nc)
        telemetry.shutdown(tracing)


async def until_signalled() -> None:
    """Return on SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
