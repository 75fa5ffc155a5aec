"""What every part of the jobs service works with."""

from dataclasses import dataclass

from nats.aio.client import Client
from nats.js import JetStreamContext
from opentelemetry.trace import Tracer

from services.jobs.settings import JobsSettings
from services.kit.files_client import Files
from services.kit.tables import Database
from shared.bus import Caller


@dataclass(frozen=True, slots=True)
class Context:
    nc: Client
    js: JetStreamContext
    caller: Caller  # calls to the other services (files, and the model services for batch lines)
    store: Database
    files: Files
    settings: JobsSettings
    # Bytes a list page may take: an answer rides one NATS message (max_payload, about 1 MiB).
    page_budget: int = 900 * 1024
    tracer: Tracer | None = None  # spans for calls to upstreams (fine-tuning jobs run there)
