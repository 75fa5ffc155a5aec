"""/v1/batches end to end through the edge with the official SDK: a batch's lines run on the same
bus subjects as online requests (same answers), its output and error files come in OpenAI's line
format, and the batch object goes validating → in_progress → finalizing → completed."""

import json

import pytest

from tests.batch_helpers import read_lines, request_line, upload, wait


@pytest.fixture
def batch_client(jobs, project_client):
    return project_client()[0]


def test_embeddings_batch_gives_the_online_answers(batch_client):
    client = batch_client
    texts = [f"sentence number {i} about cats" for i in range(7)]
    lines = [request_line(f"req-{i}", "/v1/embeddings", {"model": "text-embedding-3-small", "input": text})
             for i, text in enumerate(texts)]
    lines.insert(3, request_line("bad-model", "/v1/embeddings", {"model": "text-embedding-3-small",
                                                                 "input": "x", "dimensions": 5000}))
    input_id = upload(client, lines)
    batch = client.batches.create(input_file_id=input_id, endpoint="/v1/embeddings", completion_window="24h",
                                  metadata={"purpose": "test"},
                                  output_expires_after={"anchor": "created_at", "seconds": 7200})
    assert (batch.status, batch.endpoint, batch.input_file_id, batch.metadata) == (
        "validating", "/v1/embeddings", input_id, {"purpose": "test"})
    assert batch.expires_at == batch.created_at + 24 * 3600
    done = wait(client, batch.id)
    assert done.status == "completed", done
    assert done.created_at <= done.in_progress_at <= done.finalizing_at <= done.completed_at
    assert (done.request_counts.total, done.request_counts.completed, done.request_counts.failed) == (8, 7, 1)
    assert done.model == "text-embedding-3-small"
    assert done.usage.input_tokens > 0 and done.usage.total_tokens == done.usage.input_tokens
    out = read_lines(client, done.output_file_id)
    assert [line["custom_id"] for line in out] == [f"req-{i}" for i in range(7)]  # input order
    online = client.embeddings.create(model="text-embedding-3-small", input=texts[2], encoding_format="float")
    line = out[2]
    assert line["id"].startswith("batch_req_") and line["error"] is None
    assert line["response"]["status_code"] == 200 and line["response"]["request_id"]
    assert line["response"]["body"]["data"][0]["embedding"] == pytest.approx(online.data[0].embedding, abs=1e-6)
    errors = read_lines(client, done.error_file_id)
    assert [e["custom_id"] for e in errors] == ["bad-model"]
    assert errors[0]["response"]["status_code"] == 400 and "error" in errors[0]["response"]["body"]
    output_file = client.files.retrieve(done.output_file_id)
    assert output_file.purpose == "batch_output"
    assert output_file.expires_at == output_file.created_at + 7200  # output_expires_after


def test_invalid_lines_fail_the_batch_with_each_error(batch_client):
    client = batch_client
    url, body = "/v1/moderations", {"input": "hello"}
    # (A line that is not JSON never gets this far: the files service refuses such a batch file.)
    lines = [request_line("a", url, body), {"method": "POST", "url": url, "body": body},
             request_line("a", url, body), {**request_line("b", url, body), "url": "/v1/embeddings"},
             {**request_line("c", url, body), "method": "GET"},
             request_line("d", url, {"model": "omni-moderation-latest"}),
             request_line("e", url, {"model": "text-moderation-latest", "input": "x"})]
    batch = client.batches.create(input_file_id=upload(client, lines), endpoint=url, completion_window="24h")
    done = wait(client, batch.id)
    assert done.status == "failed" and done.failed_at
    found = {(e.line, e.code, e.param) for e in done.errors.data}
    assert found == {(2, "missing_required_parameter", "custom_id"),
                     (3, "duplicate_custom_id", "custom_id"), (4, "invalid_url", "url"),
                     (5, "invalid_method", "method"), (6, "invalid_body", "body.input"),
                     (7, "mismatched_model", "body.model")}
    assert done.output_file_id is None and done.error_file_id is None
    assert json.loads(done.model_dump_json())["errors"]["object"] == "list"


@pytest.mark.parametrize("endpoint, body, answer", [
    ("/v1/chat/completions", {"model": "gpt-4", "max_tokens": 12, "temperature": 0, "seed": 7,
                              "messages": [{"role": "user", "content": "Name a colour."}]},
     lambda body: body["choices"][0]["message"]["content"]),
    ("/v1/completions", {"model": "gpt-3.5-turbo-instruct", "max_tokens": 8, "temperature": 0, "seed": 7,
                         "prompt": "The capital of France is"},
     lambda body: body["choices"][0]["text"]),
])
def test_model_lines_answer_as_online(batch_client, endpoint, body, answer):
    client = batch_client
    batch = client.batches.create(input_file_id=upload(client, [request_line("only", endpoint, body)]),
                                  endpoint=endpoint, completion_window="24h")
    done = wait(client, batch.id)
    assert done.status == "completed" and done.request_counts.completed == 1, done
    [line] = read_lines(client, done.output_file_id)
    online = client.post(endpoint.removeprefix("/v1"), body=body, cast_to=object)
    assert answer(line["response"]["body"]) == answer(online)
    usage = line["response"]["body"]["usage"]
    assert (done.usage.input_tokens, done.usage.output_tokens) == (usage["prompt_tokens"], usage["completion_tokens"])
