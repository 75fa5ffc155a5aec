"""Static checks on docker-compose.yml and the Dockerfile.

No Docker needed: parse the files and make sure every `python -m MODULE`
command in compose points at something that would really start.
"""
import importlib.util
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent

KNOWN_VIVIAN_ENV = {
    "VIVIAN_NATS_URL",
    "VIVIAN_HOST",
    "VIVIAN_PORT",
    "VIVIAN_MODELS",
    "VIVIAN_LOG_LEVEL",
    "VIVIAN_MAX_BODY_BYTES",
    "VIVIAN_REQUEST_TIMEOUT",
    "VIVIAN_STREAM_IDLE_TIMEOUT",
    "VIVIAN_HEARTBEAT_INTERVAL",
    # the files service
    "VIVIAN_MONGO_URL",
    "VIVIAN_S3_ENDPOINT",
    "VIVIAN_S3_ACCESS_KEY",
    "VIVIAN_S3_SECRET_KEY",
    "VIVIAN_S3_BUCKET",
    "VIVIAN_S3_REGION",
    "VIVIAN_MAX_FILE_BYTES",
    "VIVIAN_MAX_UPLOAD_BYTES",
    "VIVIAN_STAGING_TIMEOUT",
    "VIVIAN_SWEEP_INTERVAL",
    "VIVIAN_DRAIN_TIMEOUT",
    # compose's healthcheck of a service (services/liveness.py)
    "VIVIAN_LIVENESS_FILE",
    "VIVIAN_LIVENESS_MAX_AGE",
}


def _services():
    with open(ROOT / "docker-compose.yml") as f:
        return yaml.safe_load(f)["services"]


def _env_names(service):
    env = service.get("environment") or {}
    if isinstance(env, list):  # ["KEY=value", ...] form
        return {item.split("=", 1)[0] for item in env}
    return set(env)


def _runnable(module):
    """True if `python -m module` would find real code to run."""
    try:
        spec = importlib.util.find_spec(module)
    except ModuleNotFoundError:  # a parent package is missing
        return False
    if spec is None:
        return False
    if spec.submodule_search_locations is not None:  # a package
        return any((Path(d) / "__main__.py").is_file()
                   for d in spec.submodule_search_locations)
    return spec.origin is not None and Path(spec.origin).is_file()


def test_expected_services_exist():
    assert {"nats", "mongo", "s3", "edge", "chat", "files", "images", "jobs"} <= set(_services())


def test_build_commands_are_python_dash_m():
    for name, svc in _services().items():
        if "build" not in svc:
            continue
        cmd = svc.get("command")
        assert isinstance(cmd, list), f"{name}: command must be a list"
        assert cmd[:2] == ["python", "-m"] and len(cmd) >= 3, f"{name}: {cmd}"


def test_build_command_modules_exist():
    modules = {svc["command"][2] for svc in _services().values()
               if "build" in svc}
    assert modules
    missing = sorted(m for m in modules if not _runnable(m))
    assert not missing, f"python -m would fail for: {missing}"


def test_vivian_env_vars_are_known():
    services = _services()
    for name in ("edge", "chat", "files", "images", "jobs"):
        names = {n for n in _env_names(services[name]) if n.startswith("VIVIAN_")}
        unknown = names - KNOWN_VIVIAN_ENV
        assert not unknown, f"{name}: unknown env vars {sorted(unknown)}"


def test_dockerfile_copies_sources():
    dockerfile = (ROOT / "Dockerfile").read_text()
    copied = " ".join(re.findall(r"^COPY\s+(.+)$", dockerfile, re.MULTILINE))
    for src in ("services", "shared", "config", "models"):
        assert re.search(rf"(^|\s){src}/?(\s|$)", copied), f"{src} not copied"


def _long_running():
    """Every service but the one-shot tools (`profiles: [tools]`, run with `docker compose run`)."""
    return {name: svc for name, svc in _services().items() if "tools" not in svc.get("profiles", ())}


def test_every_service_restarts_and_has_a_healthcheck():
    for name, svc in _long_running().items():
        assert svc.get("restart") in ("unless-stopped", "always", "on-failure"), f"{name}: no restart policy"
        check = svc.get("healthcheck") or {}
        assert not check.get("disable") and check.get("test"), f"{name}: no healthcheck"
        assert check["test"][0] in ("CMD", "CMD-SHELL"), f"{name}: {check['test']}"
        for field in ("interval", "timeout", "retries"):
            assert field in check, f"{name}: healthcheck without {field}"


def test_vivian_services_check_their_liveness_file():
    """Each domain service's healthcheck runs `python -m services.liveness`, which exists, against
    the file the service keeps fresh ($VIVIAN_LIVENESS_FILE in its environment)."""
    for name, svc in _long_running().items():
        if "build" not in svc or svc["command"][2] == "services.edge":
            continue
        assert svc["healthcheck"]["test"][1:] == ["python", "-m", "services.liveness"], name
        assert _runnable("services.liveness")
        assert "VIVIAN_LIVENESS_FILE" in _env_names(svc), name
    edge = _services()["edge"]["healthcheck"]["test"]
    assert "http://127.0.0.1:8080/healthz" in " ".join(edge)


def test_services_wait_for_healthy_dependencies():
    for name, svc in _long_running().items():
        for dep, cond in (svc.get("depends_on") or {}).items():
            assert cond.get("condition") == "service_healthy", f"{name} -> {dep}: {cond}"
