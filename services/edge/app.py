"""`create_app(settings)`: the edge's aiohttp application."""

from collections.abc import AsyncIterator

from aiohttp import web
from opentelemetry.trace import TracerProvider

from services.edge import middleware
from services.edge.context import CALLER, KEYSTORE, METRICS, NATS, SETTINGS
from services.edge.keystore import KeyStore
from services.edge.routes import (
    audio,
    batches,
    chat,
    completions,
    conversations,
    embeddings,
    files,
    fine_tuning,
    fine_tuning_checkpoints,
    health,
    images,
    metrics,
    models,
    moderations,
    responses,
    uploads,
    vector_stores,
)
from services.edge.settings import EdgeSettings
from services.edge.transfer import http_client
from shared import bus
from shared.metrics import Metrics


async def _bus(app: web.Application) -> AsyncIterator[None]:
    nc = await bus.connect(app[SETTINGS].nats_url, name="vivian-edge",
                            credentials=app[SETTINGS].nats_credentials)
    caller = bus.Caller(nc)
    await caller.start()
    keystore = KeyStore()
    await keystore.start(nc.jetstream())
    app[NATS], app[CALLER], app[KEYSTORE] = nc, caller, keystore
    yield
    await keystore.stop()
    await caller.stop()
    await bus.close(nc)


def create_app(settings: EdgeSettings, *, tracer_provider: TracerProvider | None = None) -> web.Application:
    """`tracer_provider`: spans for each request, their context sent on over NATS (None: no tracing).
    The caller owns it and shuts it down."""
    middlewares = list(middleware.MIDDLEWARES)
    if tracer_provider is not None:
        from services.edge import tracing

        tracer = tracer_provider.get_tracer("vivian.edge")
        middlewares.insert(middlewares.index(middleware.request_ids) + 1, tracing.middleware(tracer))
    app = web.Application(middlewares=middlewares, client_max_size=settings.max_body_bytes)
    app[SETTINGS] = settings
    app[METRICS] = Metrics()
    app.cleanup_ctx.append(_bus)
    app.cleanup_ctx.append(http_client)  # file bytes to and from the object store
    app.on_response_prepare.append(middleware.on_response_prepare)
    for module in (chat, completions, embeddings, moderations, audio, images, models, files, uploads, batches,
                   fine_tuning, fine_tuning_checkpoints, responses, conversations, vector_stores, health):
        app.add_routes(module.routes)
    if not settings.metrics_port:  # else only on its own address: create_metrics_app
        app.add_routes(metrics.routes)
    return app


def create_metrics_app(app: web.Application) -> web.Application:
    """`/metrics` of `app` alone, for its own address (`VIVIAN_METRICS_HOST`/`VIVIAN_METRICS_PORT`)."""
    metrics_app = web.Application(middlewares=[middleware.api_errors])
    metrics_app[SETTINGS], metrics_app[METRICS] = app[SETTINGS], app[METRICS]
    metrics_app.add_routes(metrics.routes)
    return metrics_app
