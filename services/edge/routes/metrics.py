"""GET /metrics: the edge's request metrics in Prometheus's text format. No API key, like the
probes: keep /metrics off the public internet at the ingress."""

from aiohttp import web

from services.edge.context import METRICS
from shared.metrics import render

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
routes = web.RouteTableDef()


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    return web.Response(body=render(request.app[METRICS].snapshot()).encode(), headers={"Content-Type": CONTENT_TYPE})
