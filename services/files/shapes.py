"""Between the wire and the records: request bodies in, OpenAI objects out."""

from collections.abc import Callable
from typing import Any

import msgspec

from services.files.tables import NEVER, ObjectRecord, UploadRecord
from shared import errors
from shared.protocol.files import FileObject, Upload


def decoder(type_: type) -> Callable[[bytes], Any]:
    """A decoder for request bodies: one that does not fit is a 400 naming the field."""
    decode = msgspec.json.Decoder(type_).decode

    def checked(body: bytes) -> Any:
        try:
            return decode(body)
        except (msgspec.DecodeError, msgspec.ValidationError) as err:
            raise errors.from_validation(err) from None

    return checked


def file_object(record: ObjectRecord) -> FileObject:
    return FileObject(id=record.id, bytes=record.bytes, created_at=record.created_at, filename=record.filename,
                      purpose=record.purpose, status="processed",
                      expires_at=None if record.expires_by >= NEVER else record.expires_by)


def upload_object(record: UploadRecord, *, now: int, file: FileObject | None = None) -> Upload:
    status = record.status
    if status == "completing":  # completion under way: not done until it is
        status = "pending"
    if status == "pending" and now >= record.expires_at:  # the sweep may not have run yet
        status = "expired"
    return Upload(id=record.id, bytes=record.bytes, created_at=record.created_at, filename=record.filename,
                  purpose=record.purpose, status=status, expires_at=record.expires_at, file=file)
