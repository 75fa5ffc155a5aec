"""GET /healthz (the process is up) and GET /readyz (connected to the bus, and every domain has
at least one service answering), for Kubernetes probes."""

import asyncio

from aiohttp import web
from nats.aio.client import Client
from nats.errors import Error as NatsError

from services.edge.context import NATS
from shared import subjects

PING_TIMEOUT = 1.0  # seconds; a probe's own timeout is usually a few seconds

routes = web.RouteTableDef()


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _answers(nc: Client, service: str) -> bool:
    """Whether at least one instance of the NATS micro `service` answers a ping."""
    try:
        await nc.request(f"$SRV.PING.{service}", b"", timeout=PING_TIMEOUT)
        return True
    except (NatsError, asyncio.TimeoutError):  # no responders, no answer in time, connection lost
        return False


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    nc = request.app[NATS]
    connected = nc.is_connected
    services = dict.fromkeys(subjects.SERVICES, False)
    if connected:
        answers = await asyncio.gather(*(_answers(nc, name) for name in subjects.SERVICES.values()))
        services = dict(zip(subjects.SERVICES, answers))
    ready = connected and all(services.values())
    return web.json_response({"status": "ok" if ready else "unavailable", "nats": connected, "services": services},
                             status=200 if ready else 503)
