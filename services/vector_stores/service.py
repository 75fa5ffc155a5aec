"""The vector stores service on the bus: one micro-service endpoint per call, one task per request."""

from nats.aio.client import Client
from opentelemetry.trace import TracerProvider

from services.kit.service import BusService, Endpoint, Route
from services.vector_stores import file_batches, search, store_files, stores
from services.vector_stores.context import Context
from shared import subjects

STORE = "/v1/vector_stores/{vector_store_id}"
FILE = f"{STORE}/files/{{file_id}}"
BATCH = f"{STORE}/file_batches/{{batch_id}}"

ROUTES: tuple[Route, ...] = (
    ("create", subjects.VECTOR_STORES_CREATE, "/v1/vector_stores", stores.create),
    ("list", subjects.VECTOR_STORES_LIST, "/v1/vector_stores", stores.list_stores),
    ("retrieve", subjects.VECTOR_STORES_RETRIEVE, STORE, stores.retrieve),
    ("update", subjects.VECTOR_STORES_UPDATE, STORE, stores.update),
    ("delete", subjects.VECTOR_STORES_DELETE, STORE, stores.delete),
    ("search", subjects.VECTOR_STORES_SEARCH, f"{STORE}/search", search.search),
    ("files_create", subjects.VECTOR_STORES_FILES_CREATE, f"{STORE}/files", store_files.create),
    ("files_list", subjects.VECTOR_STORES_FILES_LIST, f"{STORE}/files", store_files.list_files),
    ("files_retrieve", subjects.VECTOR_STORES_FILES_RETRIEVE, FILE, store_files.retrieve),
    ("files_update", subjects.VECTOR_STORES_FILES_UPDATE, FILE, store_files.update),
    ("files_delete", subjects.VECTOR_STORES_FILES_DELETE, FILE, store_files.delete),
    ("files_content", subjects.VECTOR_STORES_FILES_CONTENT, f"{FILE}/content", store_files.content),
    ("file_batches_create", subjects.VECTOR_STORES_FILE_BATCHES_CREATE, f"{STORE}/file_batches", file_batches.create),
    ("file_batches_retrieve", subjects.VECTOR_STORES_FILE_BATCHES_RETRIEVE, BATCH, file_batches.retrieve),
    ("file_batches_cancel", subjects.VECTOR_STORES_FILE_BATCHES_CANCEL, f"{BATCH}/cancel", file_batches.cancel),
    ("file_batches_files", subjects.VECTOR_STORES_FILE_BATCHES_FILES, f"{BATCH}/files", store_files.list_files),
)


class VectorStoresService(BusService):
    def __init__(self, nc: Client, ctx: Context, *, heartbeat_interval: float,
                 tracer_provider: TracerProvider | None = None) -> None:
        super().__init__(nc, name=subjects.SERVICES["vector_stores"], description="vector stores",
                         heartbeat_interval=heartbeat_interval, tracer_provider=tracer_provider)
        self._ctx = ctx

    def endpoints(self) -> list[Endpoint]:
        return self.answering_all(ROUTES, self._ctx)
