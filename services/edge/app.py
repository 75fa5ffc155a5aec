"""`create_app(settings)`: the edge's aiohttp application."""

from collections.abc import AsyncIterator

from aiohttp import web

from services.edge import middleware
from services.edge.context import CALLER, KEYSTORE, NATS, SETTINGS
from services.edge.keystore import KeyStore
from services.edge.routes import chat, completions, health, models
from services.edge.settings import EdgeSettings
from shared import bus


async def _bus(app: web.Application) -> AsyncIterator[None]:
    nc = await bus.connect(app[SETTINGS].nats_url, name="vivian-edge")
    caller = bus.Caller(nc)
    await caller.start()
    keystore = KeyStore()
    await keystore.start(nc.jetstream())
    app[NATS], app[CALLER], app[KEYSTORE] = nc, caller, keystore
    yield
    await keystore.stop()
    await caller.stop()
    await nc.drain()


def create_app(settings: EdgeSettings) -> web.Application:
    app = web.Application(middlewares=middleware.MIDDLEWARES, client_max_size=settings.max_body_bytes)
    app[SETTINGS] = settings
    app.cleanup_ctx.append(_bus)
    app.on_response_prepare.append(middleware.on_response_prepare)
    for module in (chat, completions, models, health):
        app.add_routes(module.routes)
    return app
