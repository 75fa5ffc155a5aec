"""`python -m services.edge`: serve the OpenAI API over HTTP until SIGINT/SIGTERM."""

import asyncio

from aiohttp import web

from services.edge import server
from services.edge.app import create_app, create_metrics_app
from services.edge.settings import EdgeSettings
from shared import logs, runtime, telemetry
from shared.settings import from_env


async def _settle(app: web.Application) -> None:
    runtime.settle()


def run() -> None:
    import uvloop

    settings = from_env(EdgeSettings)
    log = logs.setup("edge", settings.log_level)
    log.info("listening on http://%s:%d/v1", settings.host, settings.port)
    tracing = telemetry.provider_from_env("vivian-edge")
    app = create_app(settings, tracer_provider=tracing)
    app.on_startup.append(_settle)  # after the bus connection and the key store are up
    sites = [(app, settings.host, settings.port)]
    if settings.metrics_port:
        host = settings.metrics_host or settings.host
        sites.append((create_metrics_app(app), host, settings.metrics_port))
        log.info("metrics on http://%s:%d/metrics", host, settings.metrics_port)
    try:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(server.serve(sites, settings))
    finally:
        telemetry.shutdown(tracing)


if __name__ == "__main__":
    run()
