"""/v1/uploads through the edge with the openai SDK: create, add parts, complete in the order given
(with md5), cancel; expired and unfinished uploads are cleaned up."""

import hashlib
import os

import openai
import pytest

pytestmark = pytest.mark.usefixtures("files")

MiB = 1024 * 1024


def test_parts_join_in_the_order_given(project_client, files):
    client, project = project_client()
    pieces = [b'{"n": 1}\n', b'{"n": 2}\n' * 3, b'{"n": 3}\n']
    whole = pieces[2] + pieces[0] + pieces[1]
    upload = client.uploads.create(bytes=len(whole), filename="train.jsonl", mime_type="text/jsonl",
                                   purpose="fine-tune")
    assert upload.id.startswith("upload_")
    assert (upload.object, upload.status, upload.bytes, upload.filename, upload.file) == (
        "upload", "pending", len(whole), "train.jsonl", None)
    assert upload.expires_at == upload.created_at + 3600
    parts = [client.uploads.parts.create(upload_id=upload.id, data=piece) for piece in pieces]
    assert all(p.id.startswith("part_") and p.object == "upload.part" and p.upload_id == upload.id for p in parts)

    done = client.uploads.complete(upload_id=upload.id, part_ids=[parts[2].id, parts[0].id, parts[1].id],
                                   md5=hashlib.md5(whole).hexdigest())
    assert (done.id, done.status) == (upload.id, "completed")
    assert (done.file.bytes, done.file.filename, done.file.purpose, done.file.status) == (
        len(whole), "train.jsonl", "fine-tune", "processed")
    assert client.files.retrieve(done.file.id) == done.file
    assert client.files.content(done.file.id).content == whole
    # The parts were only a way there: their records and objects are gone.
    assert files.records("upload_parts", {"upload_id": upload.id}) == []
    assert list(files.objects(f"{project}/")) == [f"{project}/files/{done.file.id}"]

    for call in (lambda: client.uploads.parts.create(upload_id=upload.id, data=b"late"),
                 lambda: client.uploads.complete(upload_id=upload.id, part_ids=[parts[0].id]),
                 lambda: client.uploads.cancel(upload.id)):
        with pytest.raises(openai.BadRequestError) as caught:
            call()
        assert caught.value.body["param"] == "upload_id"


def test_the_sdk_helper_large_parts_joined_in_the_store(project_client, tmp_path):
    """Parts of at least 5 MiB are joined by the store itself (a multipart copy); smaller ones
    stream through the files service. Both give the same bytes."""
    client, _ = project_client()
    path = tmp_path / "big.bin"
    data = os.urandom(13 * MiB + 5)
    path.write_bytes(data)
    for part_size in (6 * MiB, 4 * MiB):
        upload = client.uploads.upload_file_chunked(file=path, mime_type="application/octet-stream",
                                                    purpose="assistants", part_size=part_size,
                                                    md5=hashlib.md5(data).hexdigest())
        assert (upload.status, upload.file.bytes, upload.file.filename) == ("completed", len(data), "big.bin")
        assert client.files.content(upload.file.id).content == data


def test_complete_checks_md5_bytes_and_parts_and_stays_pending(project_client):
    client, _ = project_client()
    upload = client.uploads.create(bytes=6, filename="a.txt", mime_type="text/plain", purpose="assistants")
    first = client.uploads.parts.create(upload_id=upload.id, data=b"abc")
    second = client.uploads.parts.create(upload_id=upload.id, data=b"def")

    cases = [({"part_ids": [first.id], "md5": None}, "part_ids"),  # 3 bytes, not 6
             ({"part_ids": [first.id, first.id]}, "part_ids"),
             ({"part_ids": [first.id, "part_nope"]}, "part_ids"),
             ({"part_ids": []}, "part_ids"),
             ({"part_ids": [first.id, second.id], "md5": hashlib.md5(b"defabc").hexdigest()}, "md5")]
    for arguments, param in cases:
        with pytest.raises(openai.BadRequestError) as caught:
            client.uploads.complete(upload_id=upload.id, **{k: v for k, v in arguments.items() if v is not None})
        assert caught.value.body["param"] == param, arguments
    # Every failure left it pending: fixed, it completes.
    done = client.uploads.complete(upload_id=upload.id, part_ids=[first.id, second.id],
                                   md5=hashlib.md5(b"abcdef").hexdigest())
    assert client.files.content(done.file.id).content == b"abcdef"


def test_batch_uploads_must_be_jsonl(project_client, files):
    client, project = project_client()
    upload = client.uploads.create(bytes=9, filename="b.jsonl", mime_type="text/jsonl", purpose="batch")
    part = client.uploads.parts.create(upload_id=upload.id, data=b"not json\n")
    with pytest.raises(openai.BadRequestError) as caught:
        client.uploads.complete(upload_id=upload.id, part_ids=[part.id])
    assert caught.value.body["code"] == "invalid_file_format"
    assert files.records("files", {"project": project}) == []
    assert list(files.objects(f"{project}/files/")) == []


def test_cancel_drops_the_parts(project_client, files):
    client, project = project_client()
    upload = client.uploads.create(bytes=4, filename="c.txt", mime_type="text/plain", purpose="user_data")
    part = client.uploads.parts.create(upload_id=upload.id, data=b"data")
    cancelled = client.uploads.cancel(upload.id)
    assert (cancelled.id, cancelled.status, cancelled.file) == (upload.id, "cancelled", None)
    assert files.records("upload_parts", {"upload_id": upload.id}) == []
    assert files.objects(f"{project}/") == {}
    with pytest.raises(openai.BadRequestError):
        client.uploads.complete(upload_id=upload.id, part_ids=[part.id])


def test_uploads_belong_to_their_project(project_client):
    owner, _ = project_client()
    other, _ = project_client()
    upload = owner.uploads.create(bytes=1, filename="o.txt", mime_type="text/plain", purpose="user_data")
    part = owner.uploads.parts.create(upload_id=upload.id, data=b"o")
    for call in (lambda: other.uploads.parts.create(upload_id=upload.id, data=b"x"),
                 lambda: other.uploads.complete(upload_id=upload.id, part_ids=[part.id]),
                 lambda: other.uploads.cancel(upload.id)):
        with pytest.raises(openai.NotFoundError) as caught:
            call()
        assert caught.value.body["message"] == f"No such Upload object: {upload.id}"
    assert owner.uploads.complete(upload_id=upload.id, part_ids=[part.id]).status == "completed"


def test_bad_uploads(project_client):
    client, _ = project_client()
    good = {"bytes": 5, "filename": "x", "mime_type": "text/plain", "purpose": "assistants"}
    cases = [({"purpose": "nonsense"}, 400, "purpose"),
             ({"bytes": 0}, 400, "bytes"),
             ({"bytes": 9 * 1024**3}, 413, "bytes"),
             ({"bytes": -1}, 400, "bytes"),
             ({"filename": ""}, 400, "filename")]
    for arguments, status, param in cases:
        with pytest.raises(openai.APIStatusError) as caught:
            client.uploads.create(**{**good, **arguments})
        assert (caught.value.status_code, caught.value.body["param"]) == (status, param), arguments
    with pytest.raises(openai.NotFoundError) as caught:
        client.uploads.parts.create(upload_id="upload_nope", data=b"x")
    assert caught.value.body["param"] == "upload_id"
    upload = client.uploads.create(bytes=1, filename="x", mime_type="text/plain", purpose="assistants")
    with pytest.raises(openai.BadRequestError) as caught:
        client.uploads.parts.create(upload_id=upload.id, data=b"")
    assert caught.value.body["param"] == "data"
    with pytest.raises(openai.APIStatusError) as caught:
        client.uploads.parts.create(upload_id=upload.id, data=b"x" * (64 * MiB + 1))
    assert (caught.value.status_code, caught.value.body["param"]) == (413, "data")


async def test_expired_and_unfinished_uploads_are_swept(project_client, files, files_context):
    from services.files import janitor

    client, project = project_client()
    upload = client.uploads.create(bytes=10, filename="never.txt", mime_type="text/plain", purpose="user_data")
    client.uploads.parts.create(upload_id=upload.id, data=b"12345")
    assert len(files.objects(f"{project}/uploads/")) == 1
    await janitor.sweep(files_context, now=upload.expires_at + 1)
    assert files.objects(f"{project}/") == {}
    assert files.records("upload_parts", {"upload_id": upload.id}) == []
    (record,) = files.records("uploads", {"_id": upload.id})
    assert record["status"] == "expired"
    with pytest.raises(openai.BadRequestError) as caught:
        client.uploads.parts.create(upload_id=upload.id, data=b"67890")
    assert "expired" in caught.value.body["message"]
