"""Typed keys for what the edge app holds."""

from aiohttp import web
from nats.aio.client import Client
from opentelemetry.trace import Span

from services.edge.keystore import KeyStore
from services.edge.settings import EdgeSettings
from shared.bus import Caller
from shared.metrics import Metrics

SETTINGS = web.AppKey("settings", EdgeSettings)
NATS = web.AppKey("nats", Client)
CALLER = web.AppKey("caller", Caller)
KEYSTORE = web.AppKey("keystore", KeyStore)
METRICS = web.AppKey("metrics", Metrics)

# Per-request values (request[...]).
REQUEST_ID = web.RequestKey("request_id", str)
PROJECT = web.RequestKey("project", str)
STARTED = web.RequestKey("started", float)  # time.monotonic() when the request arrived
MODEL = web.RequestKey("model", str)  # the model the client asked for, once the body is read
# The answer's real status when it is not the HTTP one (an error inside a stream already sent as 200).
STATUS = web.RequestKey("status", int)
SPAN = web.RequestKey("span", Span)  # the request's span, when tracing is on
