"""The files service's checks and shapes, without servers."""

import pytest

from services.files import validate
from services.files.shapes import upload_object
from services.files.tables import UploadRecord
from shared import errors
from shared.protocol.files import ExpiresAfter


def check(*chunks: bytes) -> None:
    jsonl = validate.JsonlCheck()
    for chunk in chunks:
        jsonl.feed(chunk)
    jsonl.finish()


@pytest.mark.parametrize("chunks", [
    [b'{"a": 1}\n{"b": 2}\n'],
    [b'{"a": 1}\n{"b": 2}'],  # no final newline
    [b'{"a": ', b'1}\n{"b"', b": 2}\r\n"],  # lines cut across chunks, CRLF
    [b'\n{"a": 1}\n\n\n{"b": [1, {"c": null}]}\n'],  # blank lines
])
def test_jsonl_accepted(chunks):
    check(*chunks)


@pytest.mark.parametrize(("chunks", "line"), [
    ([b'{"a": 1}\n[1]\n'], "line 2 "),
    ([b'{"a": 1}\n', b'{"b": \n'], "line 2 "),
    ([b'"just a string"'], "line 1 "),
    ([b'{"a": 1} {"b": 2}\n'], "line 1 "),
    ([b""], "no lines"),
    ([b"\n \n"], "no lines"),
])
def test_jsonl_refused_naming_the_line(chunks, line):
    with pytest.raises(errors.ApiError) as caught:
        check(*chunks)
    assert (caught.value.status, caught.value.param, caught.value.code) == (400, "file", "invalid_file_format")
    assert line in caught.value.message


def test_jsonl_refuses_a_line_too_long_to_hold(monkeypatch):
    # Only an unfinished line is held across chunks; a line in one chunk is as big as the chunk.
    monkeypatch.setattr(validate, "MAX_LINE_BYTES", 10)
    with pytest.raises(errors.ApiError) as caught:
        check(b'{"a": "01234', b'56789"}\n')
    assert "longer than 10 bytes" in caught.value.message


def test_purpose_and_size():
    assert validate.purpose("batch") == "batch"
    for value, code in ((None, "missing_required_parameter"), ("", "missing_required_parameter"),
                        ("batches", "invalid_value")):
        with pytest.raises(errors.ApiError) as caught:
            validate.purpose(value)
        assert (caught.value.param, caught.value.code) == ("purpose", code)
    with pytest.raises(errors.ApiError) as caught:
        validate.size(11, limit=10)
    assert (caught.value.status, caught.value.code) == (413, "file_too_large")
    with pytest.raises(errors.ApiError) as caught:
        validate.size(0, limit=10, param="data")
    assert (caught.value.status, caught.value.param) == (400, "data")


def test_expiry():
    assert validate.expires_at("assistants", 1000, None) is None
    assert validate.expires_at("batch", 1000, None) == 1000 + 30 * 24 * 3600
    assert validate.expires_at("assistants", 1000, ExpiresAfter(anchor="created_at", seconds=3600)) == 4600


def test_upload_status_as_clients_see_it():
    upload = UploadRecord(id="upload_x", project="p", filename="f", purpose="batch", bytes=1, mime_type="text/plain",
                          created_at=100, expires_at=200, status="completing")
    assert upload_object(upload, now=150).status == "pending"  # not done until it is
    upload.status = "pending"
    assert upload_object(upload, now=200).status == "expired"  # before the sweep gets to it
    upload.status = "cancelled"
    assert upload_object(upload, now=300).status == "cancelled"
