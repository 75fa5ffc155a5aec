"""Validation of a batch's input, line by line (services/jobs/batches/lines.py), without a stack."""

import json

from services.jobs.batches.lines import MAX_ERRORS, Scan, check, custom_id_of, stopped
from shared.protocol.batches import BatchError

URL = "/v1/embeddings"


def line(custom_id="a", **fields) -> bytes:
    body = {"custom_id": custom_id, "method": "POST", "url": URL,
            "body": {"model": "text-embedding-3-small", "input": "hi"}, **fields}
    return json.dumps(body).encode()


def scan(lines: list[bytes], chunk_lines: int = 2) -> Scan:
    s, offset = Scan(endpoint=URL, chunk_lines=chunk_lines), 0
    for raw in lines:
        s.feed(offset, raw)
        offset += len(raw) + 1
    return s


def test_a_good_line_gives_its_id_and_model():
    checked = check(line("x"), number=1, endpoint=URL)
    assert (checked.custom_id, checked.model) == ("x", "text-embedding-3-small")


def test_each_kind_of_bad_line():
    def code(raw: bytes) -> tuple:
        found = check(raw, number=4, endpoint=URL)
        assert isinstance(found, BatchError) and found.line == 4
        return found.code, found.param

    assert code(b"[1, 2]") == ("invalid_json_line", None)
    assert code(json.dumps({"method": "POST", "url": URL, "body": {}}).encode()) == (
        "missing_required_parameter", "custom_id")
    assert code(line(custom_id=5)) == ("invalid_type", "custom_id")
    assert code(line(method="PUT")) == ("invalid_method", "method")
    assert code(line(url="/v1/chat/completions")) == ("invalid_url", "url")
    # A body for another endpoint.
    assert code(line(body={"model": "gpt-4", "messages": [{"role": "user", "content": "hi"}]})) == (
        "invalid_body", "body.input")
    chat = {"custom_id": "c", "method": "POST", "url": "/v1/chat/completions",
            "body": {"model": "gpt-4", "stream": True, "messages": [{"role": "user", "content": "hi"}]}}
    found = check(json.dumps(chat).encode(), number=1, endpoint="/v1/chat/completions")
    assert (found.code, found.param) == ("invalid_body", "body.stream")


def test_scan_cuts_chunks_by_request_lines_and_skips_blank_ones():
    lines = [line("a"), b"", line("b"), line("c"), b"  ", line("d"), line("e")]
    s = scan(lines)
    assert (s.requests, s.errors, s.model) == (5, [], "text-embedding-3-small")
    data = b"\n".join(lines) + b"\n"
    chunks = [data[start:end] for start, end in s.ranges()]
    ids = [[json.loads(x)["custom_id"] for x in chunk.split(b"\n") if x.strip()] for chunk in chunks]
    assert ids == [["a", "b"], ["c", "d"], ["e"]]


def test_scan_finds_duplicates_and_mixed_models_after_a_bad_first_line():
    other = line("z", body={"model": "all-minilm-l6-v2", "input": "hi"})
    s = scan([line("a", method="GET"), line("b"), line("b"), other])
    assert [(e.line, e.code) for e in s.errors] == [(1, "invalid_method"), (3, "duplicate_custom_id"),
                                                    (4, "mismatched_model")]
    assert s.model == "text-embedding-3-small"


def test_scan_lists_at_most_max_errors_but_counts_all():
    s = scan([line("a", method="GET")] * (MAX_ERRORS + 5))
    assert (len(s.errors), s.bad) == (MAX_ERRORS, MAX_ERRORS + 5)


def test_a_line_never_run_keeps_its_custom_id():
    out = json.loads(stopped(line("kept"), code="batch_expired", message="late"))
    assert out["custom_id"] == "kept" and out["response"] is None
    assert out["error"] == {"code": "batch_expired", "message": "late"} and out["id"].startswith("batch_req_")
    assert custom_id_of(b'{"no": 1}') is None
