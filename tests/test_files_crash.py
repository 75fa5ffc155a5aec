"""Files on a stack of their own whose files service the tests kill (SIGKILL) mid-upload: the client
gets an error, no record points at missing bytes, a retry works, and the sweep removes what the
crash left behind. Also the size limit, which is this stack's setting."""

import asyncio
import io
import os
import signal
import threading
import time

import openai
import pytest

from services.files import janitor
from tests.files_fixtures import (
    FilesDeployment,
    files_env,
    sdk_client,
    start_files,
    stop_files,
)
from tests.stack import Stack, make_key

MiB = 1024 * 1024
LIMIT = 32 * MiB


@pytest.fixture(scope="module")
def lone(tmp_path_factory, s3_store, mongo_url):
    stack = Stack(home=str(tmp_path_factory.mktemp("lone")))
    deployment = FilesDeployment(files_env(stack, s3_store, mongo_url, VIVIAN_MAX_FILE_BYTES=str(LIMIT)))
    try:
        stack.start_nats()
        deployment.env["VIVIAN_NATS_URL"] = stack.nats_url
        stack.key = make_key(stack.nats_url)
        stack.start_edge({"VIVIAN_STREAM_IDLE_TIMEOUT": "5"})
        start_files(stack, deployment)
        yield stack, deployment
    finally:
        stop_files(deployment)
        stack.stop()


class Paused(io.RawIOBase):
    """A file whose reading stops at `pause_at` until `resume` is set."""

    def __init__(self, data: bytes, pause_at: int) -> None:
        self._data, self._pos, self._pause_at = memoryview(data), 0, pause_at
        self.reached, self.resume = threading.Event(), threading.Event()
        self.name = "crash.bin"

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        stop = len(self._data)
        if not self.resume.is_set():
            if self._pos >= self._pause_at:
                self.reached.set()
                self.resume.wait(120)
            else:
                stop = self._pause_at
        end = min(stop, self._pos + len(buffer))
        buffer[:end - self._pos] = self._data[self._pos:end]
        count, self._pos = end - self._pos, end
        return count


def wait_until(condition, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
    return found


def sweep_as_if_hours_passed(deployment: FilesDeployment) -> janitor.Swept:
    async def run() -> janitor.Swept:
        ctx = deployment.context()
        try:
            return await janitor.sweep(ctx, now=int(time.time() + deployment.settings.staging_timeout + 7200))
        finally:
            await ctx.records.close()

    return asyncio.run(run())


def upload_in_background(client: openai.OpenAI, file: Paused) -> tuple[threading.Thread, dict]:
    result: dict = {}

    def run() -> None:
        try:
            result["file"] = client.files.create(file=file, purpose="user_data")
        except openai.APIError as err:
            result["error"] = err

    thread = threading.Thread(target=run)
    thread.start()
    return thread, result


def ready_records_have_their_bytes(deployment: FilesDeployment) -> None:
    objects = deployment.objects()
    for record in deployment.records("files", {"state": "ready"}):
        assert objects.get(record["key"]) == record["bytes"], record


def kill_mid_upload(client: openai.OpenAI, deployment: FilesDeployment, data: bytes, *, victim: int) -> dict:
    """Upload `data`; once its first 8 MiB part is in the store, SIGKILL files service `victim`
    (an index into `deployment.procs`), then let the upload finish. The answer or the error."""
    paused = Paused(data, pause_at=12 * MiB)
    thread, result = upload_in_background(client, paused)
    assert paused.reached.wait(60)
    # Staged, a multipart upload started, its first part stored: no call of the edge's is left
    # with a service now (the part URLs came back), so the next call is the commit.
    (staged,) = wait_until(lambda: deployment.records("files", {"multipart": {"$gt": ""}}))
    wait_until(lambda: deployment.minio()._list_parts(deployment.settings.s3_bucket, staged["key"],
                                                      staged["multipart"]).parts)
    killed = deployment.procs.pop(victim)
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    paused.resume.set()
    thread.join(120)
    return result


def test_killed_mid_upload_then_retried(lone):
    stack, deployment = lone
    client = sdk_client(stack, stack.key)
    data = os.urandom(20 * MiB)
    result = kill_mid_upload(client, deployment, data, victim=0)

    assert isinstance(result.get("error"), openai.InternalServerError)
    assert (result["error"].status_code, result["error"].body["code"]) == (503, "service_unavailable")
    # What the crash left is a stage no client sees, pointing at an unfinished multipart upload:
    # no record claims bytes the store does not have.
    assert [r["state"] for r in deployment.records("files")] == ["staged"]
    ready_records_have_their_bytes(deployment)

    start_files(stack, deployment, log="files-restarted")
    assert list(client.files.list()) == []
    retried = client.files.create(file=("crash.bin", data), purpose="user_data")
    assert client.files.content(retried.id).content == data
    ready_records_have_their_bytes(deployment)

    swept = sweep_as_if_hours_passed(deployment)
    assert swept.removed == 1
    (record,) = deployment.records("files")
    assert record["_id"] == retried.id
    assert deployment.objects() == {record["key"]: len(data)}
    assert deployment.multiparts() == []
    client.files.delete(retried.id)


def test_a_second_replica_finishes_what_a_killed_one_started(lone):
    """Bytes go edge → store, never through a replica: one dying mid-upload costs nothing when
    another serves the commit."""
    stack, deployment = lone
    start_files(stack, deployment, log="files-second")
    client = sdk_client(stack, stack.key)
    data = os.urandom(20 * MiB)
    made = kill_mid_upload(client, deployment, data, victim=0)["file"]
    assert client.files.content(made.id).content == data
    client.files.delete(made.id)


def test_over_the_limit_is_413_and_leaves_nothing(lone):
    stack, deployment = lone
    client = sdk_client(stack, stack.key)
    with pytest.raises(openai.APIStatusError) as caught:
        client.files.create(file=("big.bin", b"x" * (LIMIT + 1)), purpose="user_data")
    assert caught.value.status_code == 413
    assert (caught.value.body["param"], caught.value.body["code"]) == ("file", "file_too_large")
    assert deployment.records("files") == []
    assert deployment.objects() == {}
    assert deployment.multiparts() == []
    at_limit = client.files.create(file=("big.bin", b"y" * LIMIT), purpose="user_data")
    assert at_limit.bytes == LIMIT
    client.files.delete(at_limit.id)
