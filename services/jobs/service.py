"""The jobs service on the bus: one micro-service endpoint per call, one task per request.

Each domain (`batches`, and `fine_tuning` beside it) is a module with `ROUTES` (its API calls) and
`start(ctx)` (its indexes, JetStream workers and sweeps); `DOMAINS` lists them.
"""

from typing import Protocol

from nats.aio.client import Client
from opentelemetry.trace import TracerProvider

from services.jobs.batches import api as batches
from services.jobs.context import Context
from services.jobs.fine_tuning import api as fine_tuning
from services.kit.service import BusService, Endpoint, Route
from shared import subjects


class Running(Protocol):
    """What a domain's `start` returns: its background parts, stopped on shutdown."""

    async def stop(self) -> None: ...


class Domain(Protocol):
    ROUTES: tuple[Route, ...]

    async def start(self, ctx: Context) -> list[Running]: ...


DOMAINS: tuple[Domain, ...] = (batches, fine_tuning)


class JobsService(BusService):
    def __init__(self, nc: Client, ctx: Context, *, heartbeat_interval: float,
                 tracer_provider: TracerProvider | None = None) -> None:
        super().__init__(nc, name=subjects.JOBS_SERVICE, description="batches and fine-tuning jobs",
                         heartbeat_interval=heartbeat_interval, tracer_provider=tracer_provider)
        self._ctx = ctx

    def endpoints(self) -> list[Endpoint]:
        return self.answering_all((route for domain in DOMAINS for route in domain.ROUTES), self._ctx)
