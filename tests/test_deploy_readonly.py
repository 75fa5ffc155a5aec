"""Every service starts and serves on a read-only root filesystem, with only the scratch folders
its Kubernetes Deployment gives it writable, and the environment that Deployment sets.

No cluster and no Docker here: each process runs in a mount namespace of its own (`unshare`,
as root), chrooted into a read-only bind of / with an empty tmpfs on each emptyDir of its pod
(/tmp, the image user's cache), and /home as empty as the image's, as the pod's container sees them.
Its settings are the prod overlay's, with the cluster's addresses swapped for local servers
(nats-server, weed mini, nx-27017, qdrant-client's in-process mode), the ConfigMap's model config (the default models, joined
from their parts on first start) and the role's credentials file.
Slow (the default models load): `pytest -m slow tests/test_deploy_readonly.py`.
"""

import os
import shlex
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from devstack import credentials, mongo, processes, seaweed
from devstack import nats as nats_server
from tests import kube_tools
from tests.stack import free_port

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("chroot"),
                       reason="needs root, unshare and chroot for a read-only mount namespace"),
]

ROOT = Path(__file__).resolve().parent.parent
IMAGE_HOME = "/home/vivian"  # the Dockerfile's user's home, HOME in the image
S3_KEY = "vivian-readonly"

@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    home = tmp_path_factory.mktemp("readonly-stores")
    auth = credentials.ensure(str(home / "credentials"))
    procs = []
    try:
        proc, nats_url = nats_server.start(str(home / "nats"), config=auth.config)
        procs.append(proc)
        proc, s3 = seaweed.start(str(home / "s3"), access_key=S3_KEY, secret_key="readonly-secret")
        procs.append(proc)
        proc, mongo_url = mongo.start(str(home / "mongo"))
        procs.append(proc)
        yield {"nats": nats_url, "s3": s3, "mongo": mongo_url, "auth": auth, "home": home}
    finally:
        for proc in reversed(procs):
            processes.stop(proc)


def _local_value(item: dict, stores: dict) -> str:
    """A manifest env entry's value here: the cluster's addresses and Secrets swapped for local ones."""
    if "value" in item:
        value = item["value"]
        return {"nats://nats:4222": stores["nats"], "0.0.0.0": "127.0.0.1"}.get(value, value)
    ref = item["valueFrom"].get("secretKeyRef") or item["valueFrom"]["configMapKeyRef"]
    return {"mongo-url": stores["mongo"], "s3-access-key": S3_KEY, "s3-secret-key": "readonly-secret",
            "s3-endpoint": stores["s3"], "s3-bucket": "vivian-readonly", "s3-region": "us-east-1",
            # qdrant-client's in-process mode: no Qdrant server here
            "qdrant-url": ":memory:", "qdrant-api-key": ""}[ref["key"]]


def _view_script(view: Path, *, home: Path, scratch: list[str], secrets: list[str], folders: list[str]) -> str:
    """Shell lines that make the container's view at `view` and run "$@" chrooted in it: / bound
    read-only; /home replaced by `home` (the image user's, as empty as in the image, read-only); an
    empty tmpfs on each `scratch` folder (an emptyDir); each `secrets` folder bound read-only (this
    test keeps them under /tmp, which a scratch tmpfs hides); `folders` made in a scratch folder."""
    v = shlex.quote(str(view))
    lines = ["set -e", f"mount --rbind / {v}", f"mount -o remount,bind,ro {v}",
             f"mount --bind {shlex.quote(str(home))} {v}/home", f"mount -o remount,bind,ro {v}/home"]
    lines += [f"mount -t tmpfs -o size=2g,mode=1777 scratch {v}{shlex.quote(path)}" for path in scratch]
    for path in secrets:
        q = shlex.quote(path)
        lines += [f"mkdir -p {v}{q}", f"mount --bind {q} {v}{q}", f"mount -o remount,bind,ro {v}{q}"]
    lines += [f"mkdir -p {v}{shlex.quote(path)}" for path in folders]
    lines.append(f"exec chroot {v} sh -c 'cd \"$0\" && exec \"$@\"' \"$PWD\" \"$@\"")
    return "\n".join(lines)


def _start(container: dict, spec: dict, stores: dict, log: Path) -> tuple[subprocess.Popen, str]:
    """The container's command in its read-only view with its emptyDirs; returns it and its HTTP port
    (the edge's) or ''."""
    name = container["name"]
    home = stores["home"] / f"home-{name}"  # /home, with the image user's: nothing in it but mount points
    (home / IMAGE_HOME.removeprefix("/home/")).mkdir(parents=True)
    scratch_volumes = {v["name"] for v in spec["volumes"] if "emptyDir" in v}
    scratch, moved = [], {}
    for mount in container["volumeMounts"]:
        if mount["name"] not in scratch_volumes:
            continue
        path = mount["mountPath"]
        if path.startswith("/home/"):
            (home / path.removeprefix("/home/")).mkdir(parents=True)
            scratch.append(path)
        elif os.path.isdir(path):
            scratch.append(path)
        else:  # a folder the image has and this machine does not: made in the pod's /tmp
            moved[path] = "/tmp" + path
    assert "/tmp" in scratch, name
    env = {item["name"]: _local_value(item, stores) for item in container["env"]}
    env = {key: moved.get(value, value) for key, value in env.items()}
    env["VIVIAN_NATS_CREDENTIALS"] = stores["auth"].path(name.replace("-", "_"))  # the role
    if "VIVIAN_MODELS" in env:
        # the ConfigMap's file (deploy/base/models.toml, equal to it) where the pod has it: in
        # config/ beside models/, as /app/config is beside the image's /app/models
        env["VIVIAN_MODELS"] = str(ROOT / "config" / "models.toml")
    port = ""
    if "VIVIAN_PORT" in env:
        port = env["VIVIAN_PORT"] = str(free_port())
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # as the image sets
    env["HOME"] = IMAGE_HOME
    view = stores["home"] / f"view-{name}"
    view.mkdir()
    script = _view_script(view, home=home, scratch=scratch, secrets=[stores["auth"].directory],
                          folders=list(moved.values()))
    command = [sys.executable, *container["command"][1:]]
    args = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", *command]
    return processes.spawn(args, env=env, log_path=str(log)), port


def _wait_ready(port: str, proc: subprocess.Popen, log: Path, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5).close()
            return
        except (urllib.error.URLError, OSError) as err:
            assert proc.poll() is None, f"the edge exited:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"/readyz: {err}\n{log.read_text()[-3000:]}"
            time.sleep(1)


def test_every_service_serves_on_a_read_only_root(stores, tools_kubectl):
    text = subprocess.run([tools_kubectl, "kustomize", str(ROOT / "deploy" / "overlays" / "prod")],
                          capture_output=True, text=True, check=True, timeout=300).stdout
    deployments = {o["metadata"]["name"]: o["spec"]["template"]["spec"]
                   for o in yaml.safe_load_all(text) if o and o["kind"] == "Deployment"}
    running = {}
    try:
        for name, spec in deployments.items():
            (container,) = spec["containers"]
            log = stores["home"] / f"{name}.log"
            running[name] = (*_start(container, spec, stores, log), log)
        for name, (proc, port, log) in running.items():
            if name == "edge":
                continue
            processes.wait_for_line(str(log), "serving", proc=proc, timeout=600)
        proc, port, log = running["edge"]
        _wait_ready(port, proc, log)  # every domain's service answers through the bus
        for name, (proc, _, log) in running.items():
            assert proc.poll() is None, f"{name} exited:\n{log.read_text()[-3000:]}"
            assert "Read-only file system" not in log.read_text(), f"{name}:\n{log.read_text()[-3000:]}"
    finally:
        for proc, _, _ in running.values():
            processes.stop(proc)


@pytest.fixture(scope="module")
def tools_kubectl(tmp_path_factory) -> str:
    return kube_tools.extract(tmp_path_factory.mktemp("kube-tools")).kubectl
