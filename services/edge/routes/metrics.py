"""GET /metrics: the edge's request metrics in Prometheus's text format. No API key, like the probes;
with `VIVIAN_METRICS_TOKEN` set it needs `Authorization: Bearer <that token>`, and with
`VIVIAN_METRICS_PORT` set it is served only on that address (see app.create_metrics_app)."""

import hmac

from aiohttp import web

from services.edge.context import METRICS, SETTINGS
from shared import errors
from shared.metrics import render

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
routes = web.RouteTableDef()


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    token = request.app[SETTINGS].metrics_token
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
            raise errors.ApiError(401, "/metrics needs the metrics token: Authorization: Bearer <VIVIAN_METRICS_TOKEN>.",
                                  code="invalid_api_key")
    return web.Response(body=render(request.app[METRICS].snapshot()).encode(), headers={"Content-Type": CONTENT_TYPE})
