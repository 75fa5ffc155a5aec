"""The jobs service's files (services/kit/files_client.py): it writes a file through the files service's
stage and commit calls (multipart when it is bigger than a part) and reads one back as a stream of
lines, whole or a byte range, in the project that owns it."""

import secrets

import aiohttp
import openai
import pytest

from services.kit.files_client import Files
from shared import bus
from shared.protocol.files import ExpiresAfter


@pytest.fixture
async def jobs_files(stack, files):
    nc = await bus.connect(stack.nats_url, name="tests", credentials=stack.auth.path("jobs"))  # as the jobs service
    caller = bus.Caller(nc)
    await caller.start()
    async with aiohttp.ClientSession() as http:
        yield Files(caller, http, timeout=120, idle_timeout=60)
    await caller.stop()
    await nc.close()


async def test_write_then_read_lines(jobs_files, project_client):
    client, project = project_client()
    # More than one 8 MiB part, so the multipart path of services.kit.presigned runs too.
    lines = [f'{{"n": {i}, "pad": "{"x" * 200}"}}'.encode() for i in range(45_000)]
    writer = jobs_files.writer(project=project, purpose="batch_output", filename="out.jsonl", request_id="t1",
                               expires_after=ExpiresAfter(anchor="created_at", seconds=7200))
    for line in lines:
        await writer.write(line + b"\n")
    made = await writer.commit()
    assert made.purpose == "batch_output" and made.bytes == sum(len(x) + 1 for x in lines) > 8 * 1024 * 1024
    assert made.expires_at == made.created_at + 7200

    seen = client.files.retrieve(made.id)  # the project's own file, as any client sees it
    assert (seen.purpose, seen.filename) == ("batch_output", "out.jsonl")
    read = [line async for _, line in jobs_files.lines(made.id, project=project, request_id="t2")]
    assert read == lines

    # A byte range from the offsets reported: exactly the lines inside it.
    offsets = [offset async for offset, _ in jobs_files.lines(made.id, project=project, request_id="t3")]
    start, end = offsets[100], offsets[103]
    part = [line async for _, line in jobs_files.lines(made.id, project=project, request_id="t4", start=start,
                                                        end=end)]
    assert part == lines[100:103]


async def test_nothing_written_makes_no_file_and_others_cannot_read(jobs_files, project_client):
    _, project = project_client()
    writer = jobs_files.writer(project=project, purpose="batch_output", filename="empty.jsonl", request_id="t5")
    assert await writer.commit() is None

    writer = jobs_files.writer(project=project, purpose="batch_output", filename="x.jsonl", request_id="t6")
    await writer.write(b'{"a": 1}\n')
    made = await writer.commit()
    with pytest.raises(Exception) as err:
        await jobs_files.retrieve(made.id, project=f"proj_{secrets.token_hex(4)}", request_id="t7")
    assert getattr(err.value, "status", None) == 404


def test_clients_cannot_upload_output_purposes(project_client):
    client, _ = project_client()
    with pytest.raises(openai.BadRequestError) as err:
        client.files.create(file=("out.jsonl", b'{"a": 1}\n'), purpose="batch_output")
    assert err.value.body["param"] == "purpose"
