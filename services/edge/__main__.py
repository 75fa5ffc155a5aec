"""`python -m services.edge`: serve the OpenAI API over HTTP until SIGINT/SIGTERM."""

import logging

from aiohttp import web

from services.edge.app import create_app
from services.edge.settings import EdgeSettings
from shared import logs, runtime, telemetry
from shared.settings import from_env


async def _settle(app: web.Application) -> None:
    runtime.settle()


def run() -> None:
    import uvloop

    settings = from_env(EdgeSettings)
    logs.setup("edge", settings.log_level)
    logging.getLogger("edge").info("listening on http://%s:%d/v1", settings.host, settings.port)
    tracing = telemetry.provider_from_env("vivian-edge")
    app = create_app(settings, tracer_provider=tracing)
    app.on_startup.append(_settle)  # after the bus connection and the key store are up
    try:
        web.run_app(app, host=settings.host, port=settings.port,
                    print=None, handler_cancellation=True, loop=uvloop.new_event_loop(), access_log=None)
    finally:
        telemetry.shutdown(tracing)


if __name__ == "__main__":
    run()
