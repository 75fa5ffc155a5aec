"""Helpers for the Batch API tests: input files, waiting for a batch, reading its files."""

import json
import time

import openai

ENDED = ("completed", "failed", "expired", "cancelled")


def jsonl(lines: list) -> bytes:
    return b"".join((line if isinstance(line, bytes) else json.dumps(line).encode()) + b"\n" for line in lines)


def request_line(custom_id: str, url: str, body: dict) -> dict:
    return {"custom_id": custom_id, "method": "POST", "url": url, "body": body}


def upload(client: openai.OpenAI, lines: list, name: str = "batch.jsonl") -> str:
    return client.files.create(file=(name, jsonl(lines)), purpose="batch").id


def wait(client: openai.OpenAI, batch_id: str, statuses=ENDED, timeout: float = 300):
    deadline = time.monotonic() + timeout
    while True:
        batch = client.batches.retrieve(batch_id)
        if batch.status in statuses:
            return batch
        assert time.monotonic() < deadline, f"batch {batch_id} stayed {batch.status}: {batch}"
        time.sleep(0.3)


def read_lines(client: openai.OpenAI, file_id: str | None) -> list[dict]:
    if file_id is None:
        return []
    return [json.loads(line) for line in client.files.content(file_id).content.splitlines() if line.strip()]
