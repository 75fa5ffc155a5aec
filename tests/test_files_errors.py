"""Bad uploads get OpenAI's error object with a 4xx and `param`, and leave nothing behind: no
record, no object."""

import socket
import time

import httpx2
import openai
import pytest

from tests.conformance import RecordingTransport

pytestmark = pytest.mark.usefixtures("files")

MiB = 1024 * 1024


@pytest.fixture
def project(project_client, files):
    """A project of its own, and a check that it holds no record and no object at the end."""
    client, project = project_client()
    yield client, project
    assert files.records("files", {"project": project}) == []
    assert files.objects(f"{project}/") == {}


def post_form(stack, client: openai.OpenAI, conformance, **form) -> tuple[int, dict]:
    """POST /v1/files with exactly the form fields given (the SDK always sends both)."""
    # (None, text) is a plain field, still sent as multipart/form-data.
    fields = {name: value if isinstance(value, tuple) else (None, value) for name, value in form.items()}
    with httpx2.Client(transport=RecordingTransport(conformance), timeout=60) as http:
        response = http.post(f"{stack.base_url}/files", headers={"Authorization": f"Bearer {client.api_key}"},
                             files=fields)
    return response.status_code, response.json()["error"]


def test_missing_file_or_purpose(stack, project, conformance):
    client, _ = project
    status, error = post_form(stack, client, conformance, purpose="assistants")
    assert (status, error["param"], error["code"]) == (400, "file", "missing_required_parameter")
    with httpx2.Client(transport=RecordingTransport(conformance), timeout=60) as http:  # url-encoded
        response = http.post(f"{stack.base_url}/files", data={"purpose": "assistants"},
                             headers={"Authorization": f"Bearer {client.api_key}"})
    assert (response.status_code, response.json()["error"]["param"]) == (400, "file")
    status, error = post_form(stack, client, conformance, file=("a.txt", b"abc"))
    assert (status, error["param"], error["code"]) == (400, "purpose", "missing_required_parameter")
    # The file before the purpose: staged, then refused, then removed.
    status, error = post_form(stack, client, conformance, file=("a.txt", b"abc"), other="x")
    assert (status, error["param"]) == (400, "purpose")


def test_not_a_form(stack, project, conformance):
    client, _ = project
    with httpx2.Client(transport=RecordingTransport(conformance), timeout=60) as http:
        response = http.post(f"{stack.base_url}/files", json={"purpose": "batch"},
                             headers={"Authorization": f"Bearer {client.api_key}"})
    assert (response.status_code, response.json()["error"]["param"]) == (400, "file")


@pytest.mark.parametrize(("purpose", "content", "param", "code"), [
    ("nonsense", b"x", "purpose", "invalid_value"),
    ("assistants", b"", "file", "empty_file"),
    ("batch", b"", "file", "empty_file"),
    ("batch", b"not json\n", "file", "invalid_file_format"),
    ("batch", b'{"ok": 1}\n[1, 2]\n', "file", "invalid_file_format"),
    ("batch", b'{"ok": 1}\n{"cut": ', "file", "invalid_file_format"),
    ("batch", b"\n\n", "file", "invalid_file_format"),
])
def test_refused_files(project, purpose, content, param, code):
    client, _ = project
    with pytest.raises(openai.BadRequestError) as caught:
        client.files.create(file=("f.jsonl", content), purpose=purpose)
    assert (caught.value.body["param"], caught.value.body["code"]) == (param, code)


def test_bad_expires_after(project):
    client, _ = project
    with pytest.raises(openai.BadRequestError) as caught:
        client.files.create(file=("f.txt", b"x"), purpose="user_data",
                            expires_after={"anchor": "created_at", "seconds": 60})
    assert caught.value.body["param"] == "expires_after"


def test_unknown_ids(project):
    client, _ = project
    for call in (client.files.retrieve, client.files.content, client.files.delete):
        with pytest.raises(openai.NotFoundError) as caught:
            call("file-doesnotexist")
        assert (caught.value.body["param"], caught.value.body["type"]) == ("id", "invalid_request_error")
    with pytest.raises(openai.BadRequestError) as caught:
        client.files.list(after="file-doesnotexist")
    assert caught.value.body["param"] == "after"


def test_a_client_gone_mid_upload_leaves_nothing(stack, project, files):
    """The edge gives the stage up as soon as the connection drops."""
    client, project_id = project
    boundary = "vivian-test-boundary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nuser_data\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"gone.bin\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", stack.port)) as conn:
        conn.sendall(f"POST /v1/files HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {client.api_key}\r\n"
                     f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
                     f"Content-Length: {len(head) + 30 * MiB}\r\n\r\n".encode() + head)
        for _ in range(12):  # past the first 8 MiB part
            conn.sendall(b"z" * MiB)
        wait_until(lambda: files.records("files", {"project": project_id}))
    # The fixture checks that no record and no object are left once the edge has given up.
    wait_until(lambda: not files.records("files", {"project": project_id}) and not files.objects(f"{project_id}/"))
    assert files.multiparts(f"{project_id}/") == []


def wait_until(condition, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
    return found
