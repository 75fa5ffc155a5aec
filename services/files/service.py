"""The files service on the bus: `/v1/files` and `/v1/uploads`, one task per request."""

from nats.aio.client import Client
from opentelemetry.trace import TracerProvider

from services.files import files, uploads
from services.files.context import Context
from services.kit.service import BusService, Endpoint, Route
from shared import subjects

# name, subject, the API path it serves (the metrics' `route`), handler
ROUTES: tuple[Route, ...] = (
    ("files_create", subjects.FILES_CREATE, "/v1/files", files.create),
    ("files_list", subjects.FILES_LIST, "/v1/files", files.list_files),
    ("files_retrieve", subjects.FILES_RETRIEVE, "/v1/files/{file_id}", files.retrieve),
    ("files_delete", subjects.FILES_DELETE, "/v1/files/{file_id}", files.delete),
    ("files_content", subjects.FILES_CONTENT, "/v1/files/{file_id}/content", files.content),
    ("files_stage", subjects.FILES_STAGE, "/v1/files", files.stage),
    ("files_stage_parts", subjects.FILES_STAGE_PARTS, "/v1/files", files.stage_parts),
    ("files_stage_abort", subjects.FILES_STAGE_ABORT, "/v1/files", files.stage_abort),
    ("uploads_create", subjects.UPLOADS_CREATE, "/v1/uploads", uploads.create),
    ("uploads_parts", subjects.UPLOADS_PARTS, "/v1/uploads/{upload_id}/parts", uploads.add_part),
    ("uploads_complete", subjects.UPLOADS_COMPLETE, "/v1/uploads/{upload_id}/complete", uploads.complete),
    ("uploads_cancel", subjects.UPLOADS_CANCEL, "/v1/uploads/{upload_id}/cancel", uploads.cancel),
)


class FilesService(BusService):
    def __init__(self, nc: Client, ctx: Context, *, heartbeat_interval: float,
                 tracer_provider: TracerProvider | None = None) -> None:
        super().__init__(nc, name=subjects.FILES_SERVICE, description="files and uploads",
                         heartbeat_interval=heartbeat_interval, tracer_provider=tracer_provider)
        self._ctx = ctx

    def endpoints(self) -> list[Endpoint]:
        return self.answering_all(ROUTES, self._ctx)
