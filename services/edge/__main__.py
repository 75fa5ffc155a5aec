"""`python -m services.edge`: serve the OpenAI API over HTTP until SIGINT/SIGTERM."""

import logging

from aiohttp import web

from services.edge.app import create_app
from services.edge.settings import EdgeSettings
from shared import logs
from shared.settings import from_env


def run() -> None:
    import uvloop

    settings = from_env(EdgeSettings)
    logs.setup("edge", settings.log_level)
    logging.getLogger("edge").info("listening on http://%s:%d/v1", settings.host, settings.port)
    web.run_app(create_app(settings), host=settings.host, port=settings.port, print=None,
                handler_cancellation=True, loop=uvloop.new_event_loop(), access_log=None)


if __name__ == "__main__":
    run()
