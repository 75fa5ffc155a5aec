"""The files and jobs-files suites against SeaweedFS run the way a deployment runs it: master,
volume server, filer and S3 gateway as four processes, the gateway with an identities file (one
user with keys of its own; anonymous and wrong-key requests refused), not the all-in-one
`weed mini` with environment credentials that the other tests use.

The suites run again in a pytest of their own, pointed at this server through VIVIAN_TEST_S3_*
(tests/files_fixtures.py), so it is slow: `pytest -m slow tests/test_deploy_s3.py`.
"""

import json
import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

import pytest
import urllib3
from minio import Minio
from minio.error import S3Error

from devstack import processes, seaweed

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
SUITES = ["tests/test_files.py", "tests/test_files_uploads.py", "tests/test_files_errors.py", "tests/test_jobs_files.py"]
USER = "vivian-files"


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    access_key: str
    secret_key: str

    def client(self, access_key: str | None = None, secret_key: str | None = None) -> Minio:
        return Minio(self.endpoint.removeprefix("http://"), secure=False, region="us-east-1",
                     access_key=self.access_key if access_key is None else access_key,
                     secret_key=self.secret_key if secret_key is None else secret_key)


def _start(name: str, args: list[str], home: Path) -> subprocess.Popen:
    (home / name).mkdir()
    return processes.spawn([seaweed.binary(), f"-logdir={home / name}", *args], log_path=str(home / f"{name}.log"))


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory) -> Iterator[S3Server]:
    home = tmp_path_factory.mktemp("seaweedfs")
    master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = seaweed.free_ports(8)
    server = S3Server(f"http://127.0.0.1:{s3}", USER, secrets.token_urlsafe(24))
    identities = {"identities": [{"name": USER, "credentials": [{"accessKey": server.access_key,
                                                                 "secretKey": server.secret_key}],
                                  "actions": ["Admin", "Read", "List", "Tagging", "Write"]}]}
    (home / "s3.json").write_text(json.dumps(identities))
    (home / "s3.json").chmod(0o600)
    loopback = ["-ip=127.0.0.1", "-ip.bind=127.0.0.1"]
    procs = []
    try:
        procs.append(_start("master", ["master", *loopback, f"-port={master}", f"-port.grpc={master_grpc}",
                                       f"-mdir={home / 'master'}", "-telemetry=false", "-volumeSizeLimitMB=1024"], home))
        procs.append(_start("volume", ["volume", *loopback, f"-port={volume}", f"-port.grpc={volume_grpc}",
                                       f"-dir={home / 'volume'}", f"-master=127.0.0.1:{master}.{master_grpc}"], home))
        procs.append(_start("filer", ["filer", *loopback, f"-port={filer}", f"-port.grpc={filer_grpc}",
                                      f"-master=127.0.0.1:{master}.{master_grpc}", f"-defaultStoreDir={home / 'filer'}"],
                            home))
        procs.append(_start("s3", ["s3", *loopback, f"-port={s3}", f"-port.grpc={s3_grpc}", "-port.iceberg=0",
                                   "-port.lance=0", f"-filer=127.0.0.1:{filer}.{filer_grpc}", f"-config={home / 's3.json'}",
                                   "-iam=false"], home))
        _wait_writable(server, procs, home)
        yield server
    finally:
        for proc in reversed(procs):
            processes.stop(proc)


def _wait_writable(server: S3Server, procs: list[subprocess.Popen], home: Path, timeout: float = 120.0) -> None:
    """Until the user can make a bucket and write to it (the volume server has joined the master)."""
    client, bucket = server.client(), f"ready-{secrets.token_hex(4)}"
    deadline = time.monotonic() + timeout
    while not _answers(server.endpoint):  # first the gateway's port (minio's client retries slowly)
        assert all(p.poll() is None for p in procs) and time.monotonic() < deadline, f"see the logs in {home}"
        time.sleep(0.2)
    while True:
        dead = [p.args[2] for p in procs if p.poll() is not None]
        assert not dead, f"weed {dead} exited; see the logs in {home}"
        try:
            if not client.bucket_exists(bucket):
                client.make_bucket(bucket)
            client.put_object(bucket, "ready", _Bytes(b"ok"), 2)
            client.remove_object(bucket, "ready")
            client.remove_bucket(bucket)
            return
        except (S3Error, OSError, urllib3.exceptions.HTTPError) as err:
            if time.monotonic() > deadline:
                raise TimeoutError(f"SeaweedFS did not take a write in {timeout} s: {err}; see {home}") from err
            time.sleep(0.5)


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=2).close()
    except urllib.error.HTTPError:  # an anonymous request's 403: it answers
        return True
    except OSError:
        return False
    return True


class _Bytes:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def read(self, size: int = -1) -> bytes:
        data, self._data = (self._data, b"") if size < 0 else (self._data[:size], self._data[size:])
        return data


def test_only_its_user_gets_in(s3_server):
    assert isinstance(s3_server.client().list_buckets(), list)
    for access_key, secret_key in (("", ""), (USER, "not-the-secret"), ("someone-else", s3_server.secret_key)):
        with pytest.raises(S3Error) as refused:
            s3_server.client(access_key, secret_key).list_buckets()
        assert refused.value.code in ("AccessDenied", "SignatureDoesNotMatch", "InvalidAccessKeyId"), refused.value


def test_files_suites_pass_against_it(s3_server, tmp_path):
    env = {**os.environ, "VIVIAN_TEST_S3_ENDPOINT": s3_server.endpoint,
           "VIVIAN_TEST_S3_ACCESS_KEY": s3_server.access_key, "VIVIAN_TEST_S3_SECRET_KEY": s3_server.secret_key}
    report = tmp_path / "report.xml"
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}",
                           *SUITES], cwd=ROOT, env=env, capture_output=True, text=True, timeout=3000)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    suite = ElementTree.parse(report).getroot().find("testsuite")
    ran = int(suite.get("tests")) - int(suite.get("skipped"))
    assert ran >= 20, f"only {ran} of the suites' tests ran:\n{done.stdout[-3000:]}"
    # The suites' buckets (one per files deployment, tests/files_fixtures.py) are on this server.
    assert any(b.name.startswith("vivian-tests-") for b in s3_server.client().list_buckets())
