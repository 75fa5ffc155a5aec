"""Typed keys for what the edge app holds."""

from aiohttp import web
from nats.aio.client import Client

from services.edge.keystore import KeyStore
from services.edge.settings import EdgeSettings
from shared.bus import Caller

SETTINGS = web.AppKey("settings", EdgeSettings)
NATS = web.AppKey("nats", Client)
CALLER = web.AppKey("caller", Caller)
KEYSTORE = web.AppKey("keystore", KeyStore)

# Per-request values (request[...]).
REQUEST_ID = "request_id"
PROJECT = "project"
