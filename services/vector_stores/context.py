"""What every part of the vector stores service works with."""

from dataclasses import dataclass

from nats.js import JetStreamContext

from services.kit.files_client import Files
from services.vector_stores.chunking import Chunker
from services.vector_stores.index import VectorIndex
from services.vector_stores.settings import VectorStoresSettings
from services.vector_stores.tables import Tables
from shared.bus import Caller


@dataclass(frozen=True, slots=True)
class Context:
    js: JetStreamContext
    caller: Caller  # calls to the embeddings service
    files: Files  # the files service: a file's name and bytes
    tables: Tables
    index: VectorIndex
    chunker: Chunker
    settings: VectorStoresSettings
    # Bytes a list page may take: an answer rides one NATS message (max_payload, about 1 MiB).
    page_budget: int = 900 * 1024
