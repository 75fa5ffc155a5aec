"""GET /healthz (the process is up) and GET /readyz (connected to the bus), for probes."""

from aiohttp import web

from services.edge.context import NATS

routes = web.RouteTableDef()


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    connected = request.app[NATS].is_connected
    return web.json_response({"status": "ok" if connected else "unavailable", "nats": connected},
                             status=200 if connected else 503)
