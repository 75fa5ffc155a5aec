"""Logging set-up shared by every process: one line per event, with the request id when there is one."""

import logging
import sys

from shared import runtime


def setup(service: str, level: str = "info") -> logging.Logger:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"%(asctime)s %(levelname)s {service} %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    runtime.lean_logging()
    return logging.getLogger(service)
