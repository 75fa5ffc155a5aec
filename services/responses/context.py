"""What every part of the responses service works with."""

from dataclasses import dataclass

from nats.aio.client import Client
from nats.js import JetStreamContext

from services.responses.events import EventLog
from services.responses.settings import ResponsesSettings
from services.responses.tables import Tables
from shared.bus import Caller


@dataclass(frozen=True, slots=True)
class Context:
    nc: Client
    js: JetStreamContext
    caller: Caller  # calls to the chat service, which runs each model turn
    tables: Tables
    events: EventLog  # the stream events of background responses
    settings: ResponsesSettings
    # Bytes a list page may take: an answer rides one NATS message (max_payload, about 1 MiB).
    page_budget: int = 900 * 1024
