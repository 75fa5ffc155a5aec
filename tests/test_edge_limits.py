"""The edge can't be tied up: a stalled or crawling body is a 408, the HTTP parser's and multipart
errors are OpenAI-shaped 4xx, no key reaches the log, metric labels stay bounded, /metrics can be
locked. Raw sockets where the SDK cannot send the bad input."""

import http.client
import json
import os
import secrets
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import openai
import pytest

from devstack import processes
from tests.files_fixtures import FilesDeployment, files_env, start_files, stop_files
from tests.stack import Stack, free_port, make_key

BODY_READ_TIMEOUT = 3
METRICS_TOKEN = "metrics-" + "t" * 24


@pytest.fixture(scope="module")
def edge(tmp_path_factory) -> Iterator[Stack]:
    """NATS and an edge (the files and images services join for the tests that need them: most of what
    is tested here never reaches a service), with a short body timeout, and /metrics on an address of
    its own behind a token."""
    s = Stack(home=str(tmp_path_factory.mktemp("edge-limits")))
    s.metrics_port = free_port()
    try:
        s.start_nats()
        s.key = make_key(s.nats_url, name="tests")
        s.start_edge({"VIVIAN_BODY_READ_TIMEOUT": str(BODY_READ_TIMEOUT), "VIVIAN_METRICS_TOKEN": METRICS_TOKEN,
                      "VIVIAN_METRICS_PORT": str(s.metrics_port)})
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def files_service(edge, s3_store, mongo_url) -> Iterator[FilesDeployment]:
    """The files service on that bus: /v1/files and /v1/uploads read their file parts only once it has
    staged them."""
    deployment = FilesDeployment(files_env(edge, s3_store, mongo_url))
    start_files(edge, deployment)
    try:
        yield deployment
    finally:
        stop_files(deployment)


@pytest.fixture(scope="module")
def images_service(edge, s3_store) -> Iterator[None]:
    """The images service on that bus, so /v1/images/edits and variations read their image parts."""
    with open(os.path.join(edge.home, "models.toml"), "w") as f:  # no models: not needed to stage an input
        f.write("")
    edge.start_service("images", env={"VIVIAN_S3_ENDPOINT": s3_store.endpoint, "VIVIAN_S3_ACCESS_KEY": s3_store.access_key,
                                      "VIVIAN_S3_SECRET_KEY": s3_store.secret_key,
                                      "VIVIAN_S3_BUCKET": f"vivian-images-{secrets.token_hex(4)}"})
    try:
        yield
    finally:
        processes.stop(edge.procs.pop("images"))


@pytest.fixture(scope="module")
def upload_id(edge, files_service) -> str:
    client = openai.OpenAI(base_url=edge.base_url, api_key=edge.key, max_retries=0, timeout=60)
    return client.uploads.create(bytes=1000, filename="a.jsonl", mime_type="text/jsonl", purpose="batch").id


# ---------------------------------------------------------------- raw HTTP


def connect(stack: Stack, timeout: float = 120) -> socket.socket:
    return socket.create_connection(("127.0.0.1", stack.port), timeout=timeout)


def answer(sock: socket.socket) -> tuple[int, dict, dict]:
    """The response on `sock`: status, headers (lower-cased names), JSON body."""
    resp = http.client.HTTPResponse(sock)
    resp.begin()
    raw = resp.read()
    headers = {k.lower(): v for k, v in resp.getheaders()}
    assert headers.get("content-type", "").startswith("application/json"), (resp.status, raw[:300])
    return resp.status, headers, json.loads(raw)


def exchange(stack: Stack, data: bytes) -> tuple[int, dict, dict]:
    with connect(stack) as sock:
        sock.sendall(data)
        return answer(sock)


def closed(sock: socket.socket) -> bool:
    """Whether the server closed the connection (after its answer)."""
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def assert_openai_error(status: int, body: dict, expected: int) -> dict:
    assert status == expected, body
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["message"], body
    return error


def post_head(stack: Stack, path: str, content_type: str, length: int, extra: str = "") -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {stack.key}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {length}\r\n{extra}\r\n").encode()


BOUNDARY = "vivianboundary"
FORM = f"multipart/form-data; boundary={BOUNDARY}"


def form_field(name: str, value: bytes, headers: str = "") -> bytes:
    return (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n{headers}\r\n').encode() + value + b"\r\n"


def form_file(name: str, filename: str, data: bytes) -> bytes:
    return (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n").encode() + data + b"\r\n"


FORM_END = f"--{BOUNDARY}--\r\n".encode()


# ---------------------------------------------------------------- body read timeout


def test_short_body_is_408_and_the_connection_closes(edge):
    started = time.monotonic()
    with connect(edge) as sock:
        sock.sendall(post_head(edge, "/v1/chat/completions", "application/json", 100) + b"{}")
        status, headers, body = answer(sock)
        error = assert_openai_error(status, body, 408)
        assert error["code"] == "request_timeout" and headers["x-request-id"].startswith("req_")
        assert headers.get("connection", "").lower() == "close" and closed(sock)
    print(f"408 after {time.monotonic() - started:.1f}s (VIVIAN_BODY_READ_TIMEOUT={BODY_READ_TIMEOUT})")


def test_trickled_body_is_408(edge):
    """A byte every half second is not progress: it would hold the request for ever."""
    with connect(edge) as sock:
        sock.sendall(post_head(edge, "/v1/embeddings", "application/json", 10_000) + b"{")
        try:
            for _ in range(20 * BODY_READ_TIMEOUT):
                time.sleep(0.5)
                sock.sendall(b" ")
        except OSError:  # the edge answered and closed while we trickled
            pass
        status, _, body = answer(sock)
    assert assert_openai_error(status, body, 408)["code"] == "request_timeout"


def test_a_slow_steady_body_is_not_cut(edge):
    """8 KiB a second for twice the timeout goes through: the timeout is on inactivity, not the total."""
    content = json.dumps({"model": "whatever", "input": "x" * 60_000}).encode()
    pieces = [content[i:i + 2048] for i in range(0, len(content), 2048)]
    with connect(edge) as sock:
        sock.sendall(post_head(edge, "/v1/embeddings", "application/json", len(content)))
        started = time.monotonic()
        for piece in pieces:
            sock.sendall(piece)
            time.sleep(0.25)
        status, _, body = answer(sock)
    assert time.monotonic() - started > 2 * BODY_READ_TIMEOUT
    assert status == 503, body  # read whole; then no embeddings service behind this edge


@pytest.mark.parametrize(("path", "file_param"), [("/v1/audio/transcriptions", "file"), ("/v1/files", "file"),
                                                  ("/v1/uploads/{upload}/parts", "data"), ("/v1/images/edits", "image")])
def test_upload_that_stops_mid_file_is_408(edge, upload_id, images_service, path, file_param):
    path = path.format(upload=upload_id)
    sent = (form_field("model", b"whisper-1") + form_field("purpose", b"batch")
            + form_file(file_param, "a.wav", b"RIFF" + b"\0" * 300_000))
    with connect(edge) as sock:
        sock.sendall(post_head(edge, path, FORM, len(sent) + 50_000) + sent)  # 50 KB never come
        status, _, body = answer(sock)
        assert assert_openai_error(status, body, 408)["code"] == "request_timeout"
        assert closed(sock)


# ---------------------------------------------------------------- the HTTP parser's errors


def raw_request(edge: Stack, line: str = "GET /v1/models HTTP/1.1", headers: str = "") -> bytes:
    return f"{line}\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {edge.key}\r\n{headers}\r\n".encode()


@pytest.mark.parametrize(("name", "make", "status"), [
    ("long header", lambda e: raw_request(e, headers=f"X-Big: {'b' * 10_000}\r\n"), 431),
    ("long URL", lambda e: raw_request(e, line=f"GET /v1/models?{'q' * 10_000} HTTP/1.1"), 431),
    ("too many headers", lambda e: raw_request(e, headers="".join(f"X-H{i}: v\r\n" for i in range(150))), 431),
    ("bad request line", lambda e: b"NOT HTTP AT ALL\r\n\r\n", 400),
    ("invalid method", lambda e: raw_request(e, line="G(T /v1/models HTTP/1.1"), 400),
    ("bad header line", lambda e: raw_request(e, headers="no colon here\r\n"), 400),
    ("bad chunk size", lambda e: raw_request(e, line="POST /v1/embeddings HTTP/1.1",
                                             headers="Transfer-Encoding: chunked\r\n") + b"zz\r\nabc\r\n0\r\n\r\n", 400),
    ("content-length and chunked", lambda e: raw_request(
        e, line="POST /v1/embeddings HTTP/1.1", headers="Content-Length: 3\r\nTransfer-Encoding: chunked\r\n"), 400),
])
def test_parser_errors_are_openai_errors(edge, name, make, status):
    status_got, headers, body = exchange(edge, make(edge))
    assert_openai_error(status_got, body, status)
    assert headers["x-request-id"].startswith("req_")


def test_broken_chunked_body_after_the_headers_is_400(edge):
    """The parser accepts the headers, the handler starts reading, then a chunk is malformed."""
    with connect(edge) as sock:
        sock.sendall(raw_request(edge, line="POST /v1/embeddings HTTP/1.1", headers="Content-Type: application/json\r\n"
                                 "Transfer-Encoding: chunked\r\n") + b"2\r\n{}\r\n")
        time.sleep(0.5)
        sock.sendall(b"not-a-size\r\n\r\n")
        status, _, body = answer(sock)
    assert_openai_error(status, body, 400)


def test_a_long_authorization_header_never_reaches_the_log(edge):
    """aiohttp's error line quoted the refused header: a valid key in an Authorization header over
    8 KB went to edge.log."""
    padded = f"Bearer {edge.key}" + " " * 9000 + "x"
    status, _, body = exchange(edge, raw_request(edge, headers=f"Authorization: {padded}\r\n"))
    assert_openai_error(status, body, 431)
    # And through the SDK, a key of its own that long.
    client = openai.OpenAI(base_url=edge.base_url, api_key=edge.key + "A" * 9000, max_retries=0, timeout=60)
    with pytest.raises(openai.APIStatusError) as caught:
        client.models.list()
    assert caught.value.status_code == 431 and caught.value.body["code"] == "request_header_too_large"
    time.sleep(0.5)  # the edge logs in the event-loop step after answering
    log = edge.read_log("edge")
    assert edge.key not in log and edge.key[10:30] not in log
    assert "refused a request" in log  # the refusal is logged, without the line


# ---------------------------------------------------------------- multipart


def truncated_file(fields: tuple[str | None, str]) -> bytes:
    return (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{fields[1]}"; filename="a.png"\r\n\r\n'
            "PNGbytes").encode()


MALFORMED_FORMS = {  # each takes the route's (text field, file field)
    "unknown charset": lambda fields: form_field(
        fields[0], b"value", "Content-Type: text/plain; charset=x-no-such-charset\r\n") + FORM_END,
    "bad part header": lambda fields: (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{fields[1]}"\r\n'
                                       "this is not a header\r\n\r\nvalue\r\n").encode() + FORM_END,
    "long part header": lambda fields: form_field(fields[1], b"value", f"X-Big: {'b' * 10_000}\r\n") + FORM_END,
    "truncated field": lambda fields: (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{fields[0]}"\r\n\r\n'
                                       "val").encode(),
    "truncated file": truncated_file,
}
FORM_ROUTES = {  # path: (a text field it reads, its file field)
    "/v1/audio/transcriptions": ("model", "file"),
    "/v1/audio/translations": ("prompt", "file"),
    "/v1/images/edits": ("prompt", "image"),
    "/v1/images/variations": ("model", "image"),
    "/v1/files": ("purpose", "file"),
    "/v1/uploads/{upload}/parts": (None, "data"),  # reads no text field: its file part, cut short
}


@pytest.mark.parametrize("path", FORM_ROUTES)
@pytest.mark.parametrize("case", MALFORMED_FORMS)
def test_malformed_forms_are_400(edge, upload_id, images_service, path, case):
    fields = FORM_ROUTES[path]
    if fields[0] is None and case == "unknown charset":
        pytest.skip("the route reads no text field: the charset of its bytes does not matter")
    if fields[0] is None:
        fields = (fields[1], fields[1])
    sent = MALFORMED_FORMS[case](fields)
    status, _, body = exchange(edge, post_head(edge, path.format(upload=upload_id), FORM, len(sent)) + sent)
    error = assert_openai_error(status, body, 400)
    assert error["type"] == "invalid_request_error"


@pytest.mark.parametrize("content_type", ["multipart/form-data", "multipart/form-data; boundary=",
                                          f"multipart/form-data; boundary={'b' * 80}"])
def test_form_without_a_usable_boundary_is_400(edge, content_type):
    sent = form_field("model", b"whisper-1") + FORM_END
    status, _, body = exchange(edge, post_head(edge, "/v1/audio/transcriptions", content_type, len(sent)) + sent)
    assert assert_openai_error(status, body, 400)["param"] == "file"


# ---------------------------------------------------------------- metrics


def scrape(port: int, token: str | None = METRICS_TOKEN) -> tuple[int, bytes]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics",
                                     headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def test_metrics_need_the_token_when_one_is_set(edge):
    for token in (None, "wrong", edge.key):
        status, raw = scrape(edge.metrics_port, token)
        assert_openai_error(status, json.loads(raw), 401)
    status, raw = scrape(edge.metrics_port)
    assert status == 200 and b"vivian_requests_total" in raw


def test_huge_model_names_keep_metrics_small(edge):
    """Five requests naming 900 KB models made /metrics 107 MB: they count as "unknown" now."""
    client = openai.OpenAI(base_url=edge.base_url, api_key=edge.key, max_retries=0, timeout=120)
    for i in range(5):
        with pytest.raises(openai.APIStatusError):  # no chat service behind this edge: 503
            client.chat.completions.create(model=f"{i}" * 900_000, messages=[{"role": "user", "content": "hi"}])
    time.sleep(0.5)  # counted in the event-loop step after the answer
    status, raw = scrape(edge.metrics_port)
    print(f"/metrics after five 900 KB model names: {len(raw)} bytes")
    assert status == 200 and len(raw) < 100_000
    assert b'model="unknown"' in raw


def test_metrics_on_their_own_address(edge):
    """With VIVIAN_METRICS_PORT, /metrics is served there, and not on the API's port; the metrics
    address serves nothing else."""
    for token in (None, METRICS_TOKEN):
        status, raw = scrape(edge.port, token)
        assert assert_openai_error(status, json.loads(raw), 404)["code"] == "unknown_url"
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"http://127.0.0.1:{edge.metrics_port}/v1/models", timeout=30)
    assert caught.value.code == 404 and json.loads(caught.value.read())["error"]["code"] == "unknown_url"
