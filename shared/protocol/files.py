"""`/v1/files` and `/v1/uploads`: OpenAI's objects, the requests, and what the edge and the files
service tell each other about bytes that travel beside the bus.

File bytes never ride a NATS message: the files service hands the edge presigned object-store URLs,
and the edge streams to and from them. The structs under "between the edge and the files service"
carry those URLs and the counts that come back.
"""

from typing import Annotated, Literal

from msgspec import Meta, Struct

# What a client may upload a file for (OpenAI's CreateFileRequest.purpose).
Purpose = Literal["assistants", "batch", "fine-tune", "vision", "user_data", "evals"]
# What Vivian's own services write files for (a batch's output and error files, a fine-tune's
# results); OpenAI lists them as file purposes, but no client may upload one.
OutputPurpose = Literal["batch_output", "fine-tune-results"]

# ---------------------------------------------------------------- OpenAI's objects


class FileObject(Struct, kw_only=True, omit_defaults=True, tag="file", tag_field="object"):
    id: str
    bytes: int
    created_at: int
    filename: str
    purpose: str
    # Deprecated by OpenAI but still required by its schema; a file we answer for is always whole,
    # so "processed".
    status: Literal["uploaded", "processed", "error"]
    expires_at: int | None = None  # left out for files that never expire, as the schema has no null


class FileList(Struct, kw_only=True, tag="list", tag_field="object"):
    data: list[FileObject]
    # null on an empty page, as OpenAI sends it (its schema says string).
    first_id: str | None
    last_id: str | None
    has_more: bool


class FileDeleted(Struct, kw_only=True, tag="file", tag_field="object"):
    id: str
    deleted: bool


class Upload(Struct, kw_only=True, tag="upload", tag_field="object"):
    id: str
    bytes: int
    created_at: int
    filename: str
    purpose: str
    status: Literal["pending", "completed", "cancelled", "expired"]
    expires_at: int
    file: FileObject | None = None


class UploadPart(Struct, kw_only=True, tag="upload.part", tag_field="object"):
    id: str
    created_at: int
    upload_id: str


# ---------------------------------------------------------------- requests


class ExpiresAfter(Struct, kw_only=True):
    anchor: Literal["created_at"]
    seconds: Annotated[int, Meta(ge=3600, le=2592000)]


class FileListQuery(Struct, kw_only=True, omit_defaults=True):
    """`GET /v1/files` query parameters."""

    purpose: str | None = None
    limit: Annotated[int, Meta(ge=1, le=10000)] = 10000
    order: Literal["asc", "desc"] = "desc"
    after: str | None = None


class UploadCreateRequest(Struct, kw_only=True):
    filename: Annotated[str, Meta(min_length=1)]
    purpose: str
    bytes: Annotated[int, Meta(ge=0)]
    mime_type: Annotated[str, Meta(min_length=1)]
    expires_after: ExpiresAfter | None = None


class UploadCompleteRequest(Struct, kw_only=True):
    part_ids: list[str]
    md5: str | None = None


# ---------------------------------------------------------------- between the edge and the files service


class StageRequest(Struct, kw_only=True, omit_defaults=True):
    """Before the first byte: room for one object. `upload_id` set: a part of that Upload;
    otherwise a file, with whatever of `purpose` the form has carried so far (checked early, so a
    bad purpose costs no bytes)."""

    upload_id: str | None = None
    purpose: str | None = None


class StageTarget(Struct, kw_only=True):
    """Where the edge sends the bytes: one PUT when they fit in `part_bytes`, else the object
    store's multipart upload, `part_bytes` per part (URLs from `StagePartsRequest`)."""

    id: str  # the file or part id the bytes will have
    put_url: str
    part_bytes: int
    max_bytes: int  # past this the edge stops reading and the upload fails with 413


class StagePartsRequest(Struct, kw_only=True):
    id: str
    first: Annotated[int, Meta(ge=1, le=10000)]  # S3 part numbers start at 1
    count: Annotated[int, Meta(ge=1, le=100)]


class StageParts(Struct, kw_only=True):
    urls: list[str]


class Staged(Struct, kw_only=True):
    """What the edge sent: the byte count and, for a multipart upload, each part's ETag in order."""

    id: str
    bytes: int
    etags: list[str] = []


class FileCommit(Struct, kw_only=True, omit_defaults=True):
    """`POST /v1/files` once its bytes are staged: the form's other fields."""

    staged: Staged
    purpose: str | None = None
    filename: str = ""
    expires_after: ExpiresAfter | None = None
    # Set by a service committing a file it made (then `purpose` may be an `OutputPurpose`); the
    # edge builds a client's commit itself and never sets it.
    produced: bool = False


class PartCommit(Struct, kw_only=True):
    """`POST /v1/uploads/{upload_id}/parts` once its bytes are staged."""

    upload_id: str
    staged: Staged


class StageAbort(Struct, kw_only=True):
    id: str


class UploadCall(Struct, kw_only=True, omit_defaults=True):
    """`/v1/uploads/{upload_id}/complete` and `…/cancel`: the path's id and the JSON body."""

    upload_id: str
    body: UploadCompleteRequest | None = None


class Download(Struct, kw_only=True):
    """`GET /v1/files/{file_id}/content`: where the edge fetches the bytes it streams back."""

    url: str
    bytes: int
    filename: str
