"""What a file must be to be accepted: a known purpose, some bytes, under the limit, and JSONL where
the purpose reads it line by line."""

from typing import get_args

import msgspec

from shared import errors
from shared.protocol.files import ExpiresAfter, OutputPurpose, Purpose

PURPOSES = get_args(Purpose)
OUTPUT_PURPOSES = get_args(OutputPurpose)
# Purposes whose files the rest of Vivian reads as one JSON object per line.
JSONL_PURPOSES = frozenset({"batch"})
# OpenAI: "files with purpose=batch expire after 30 days" unless `expires_after` says otherwise.
BATCH_EXPIRY = 30 * 24 * 3600
# A line longer than this is refused rather than held whole in memory while it is parsed.
MAX_LINE_BYTES = 32 * 1024 * 1024

_object = msgspec.json.Decoder(dict[str, msgspec.Raw]).decode  # checks syntax, builds only the keys


def purpose(value: str | None, *, produced: bool = False) -> str:
    """A client's purpose; with `produced`, also the purposes of files a service writes."""
    if not value:
        raise errors.invalid_request("Missing required parameter: 'purpose'.", param="purpose",
                                     code="missing_required_parameter")
    if produced and value in OUTPUT_PURPOSES:
        return value
    if value not in PURPOSES:
        raise errors.invalid_request(f"'{value}' is not one of {list(PURPOSES)} - 'purpose'", param="purpose",
                                     code="invalid_value")
    return value


def size(count: int, *, limit: int, param: str = "file") -> None:
    if count == 0:
        raise errors.invalid_request("The file is empty: upload a file with at least one byte.", param=param,
                                     code="empty_file")
    if count > limit:
        raise too_large(limit, param=param)


def too_large(limit: int, *, param: str = "file") -> errors.ApiError:
    return errors.ApiError(413, f"The file is too large: the limit is {limit} bytes.", param=param,
                           code="file_too_large")


def expires_at(purpose: str, created_at: int, after: ExpiresAfter | None) -> int | None:
    if after is not None:
        return created_at + after.seconds
    return created_at + BATCH_EXPIRY if purpose == "batch" else None


class JsonlCheck:
    """Fed a file's bytes in order; raises a 400 naming the first line that is not a JSON object.
    Blank lines are allowed (a trailing newline makes one)."""

    def __init__(self, param: str = "file") -> None:
        self._partial = bytearray()
        self._line = 0
        self._objects = 0
        self._param = param

    def feed(self, chunk: bytes) -> None:
        start = 0
        while (end := chunk.find(b"\n", start)) != -1:
            if self._partial:
                self._partial += chunk[start:end]
                self._check(bytes(self._partial))
                self._partial.clear()
            else:
                self._check(chunk[start:end])
            start = end + 1
        self._partial += chunk[start:]
        if len(self._partial) > MAX_LINE_BYTES:
            self._fail(f"line {self._line + 1} is longer than {MAX_LINE_BYTES} bytes")

    def finish(self) -> None:
        if self._partial:
            self._check(bytes(self._partial))
        if not self._objects:
            self._fail("it has no lines")

    def _check(self, line: bytes) -> None:
        self._line += 1
        if not line.strip():
            return
        try:
            _object(line)
        except (msgspec.DecodeError, msgspec.ValidationError):
            self._fail(f"line {self._line} is not a JSON object")
        self._objects += 1

    def _fail(self, why: str) -> None:
        raise errors.invalid_request(f"The file is not valid JSONL: {why}. Each line must be one JSON object.",
                                     param=self._param, code="invalid_file_format")
