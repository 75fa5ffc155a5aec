"""Static checks on docker-compose.yml and the Dockerfile.

No Docker needed: parse the files and make sure every `python -m MODULE`
command in compose points at something that would really start, with only the
settings that module reads (tests/service_settings.py finds them in the code),
paths that exist in the image and volumes where the services write.
tests/test_deploy.py holds the Kubernetes manifests to the same commands and checks.
"""
import os
import re
from pathlib import Path

import yaml

from devstack import credentials, roles
from shared import modelconfig
from tests import service_settings

ROOT = Path(__file__).resolve().parent.parent

def _compose():
    with open(ROOT / "docker-compose.yml") as f:
        return yaml.safe_load(f)


def _services():
    return _compose()["services"]


def _env_names(service):
    env = service.get("environment") or {}
    if isinstance(env, list):  # ["KEY=value", ...] form
        return {item.split("=", 1)[0] for item in env}
    return set(env)


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
    missing = sorted(m for m in modules if not service_settings.runnable(m))
    assert not missing, f"python -m would fail for: {missing}"


def test_environment_holds_only_settings_the_code_reads():
    """Every variable a service's environment sets is one its `python -m` module reads: a field of
    the settings struct it passes to from_env (shared/settings.py), or the liveness file's."""
    for name, svc in _services().items():
        if "build" not in svc:
            continue
        unknown = service_settings.unknown_env(svc["command"][2], _env_names(svc))
        assert not unknown, f"{name}: {svc['command'][2]} reads no {sorted(unknown)}"


def test_one_image_builds_every_service():
    builds = {name: svc["build"] for name, svc in _services().items() if "build" in svc}
    assert set(builds.values()) == {"."}, builds
    assert not any("image" in _services()[name] for name in builds), "a built service names an image too"


def test_paths_in_the_environment_exist_in_the_image():
    """VIVIAN_MODELS names the model config the Dockerfile copies to /app/config."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "WORKDIR /app" in dockerfile
    for name, svc in _services().items():
        path = (svc.get("environment") or {}).get("VIVIAN_MODELS")
        if path:
            assert path.startswith("/app/") and (ROOT / path.removeprefix("/app/")).is_file(), (name, path)


def test_volumes_hold_what_services_write():
    """chat's volume keeps the default model, joined from its parts into the model config's
    cache_dir (`~` is the image user's home), across restarts."""
    home = "/home/" + re.search(r"useradd .*?(\w+)$", (ROOT / "Dockerfile").read_text(), re.MULTILINE)[1]
    config = modelconfig.load(str(ROOT / "config" / "models.toml"))
    joined = {e.cache_dir.replace("~", home, 1) for e in config.models
              if modelconfig.api_of(e) == "chat" and getattr(e, "parts", None)}
    assert joined
    mounts = _mounts(_services()["chat"])
    for path in joined:
        assert any(path == dst or path.startswith(dst.rstrip("/") + "/") for dst in mounts), (path, mounts)
    named = set(_compose().get("volumes", {}))
    for name, svc in _services().items():
        for dst, src in _mounts(svc).items():
            assert src.startswith(("$", ".", "/")) or src in named, f"{name}: volume {src} is not declared"


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
    """Each domain service's healthcheck runs `python -m services.kit.liveness`, which exists, against
    the file the service keeps fresh ($VIVIAN_LIVENESS_FILE in its environment)."""
    for name, svc in _long_running().items():
        if "build" not in svc or svc["command"][2] == "services.edge":
            continue
        assert svc["healthcheck"]["test"][1:] == ["python", "-m", "services.kit.liveness"], name
        assert service_settings.runnable("services.kit.liveness")
        assert "VIVIAN_LIVENESS_FILE" in _env_names(svc), name
    edge = _services()["edge"]["healthcheck"]["test"]
    assert "http://127.0.0.1:8080/healthz" in " ".join(edge)


def test_services_wait_for_healthy_dependencies():
    for name, svc in _long_running().items():
        for dep, cond in (svc.get("depends_on") or {}).items():
            assert cond.get("condition") == "service_healthy", f"{name} -> {dep}: {cond}"


def _mounts(service) -> dict[str, str]:
    """Container path → source of each `SRC:DST[:ro]` volume (SRC may hold `${VAR:-default}`)."""
    found = {}
    for volume in service.get("volumes", []):
        src, dst = re.fullmatch(r"(.+):(/[^:]*)(?::ro|:rw)?", volume).groups()
        found[dst] = src
    return found


def test_nats_is_locked_by_the_generated_config():
    """nats-server reads the users and permissions `python -m devstack.credentials DIR`
    writes (DIR/nats-auth.conf), mounted into it."""
    nats = _services()["nats"]
    command = nats["command"]
    config = command[command.index("-c") + 1]
    assert _mounts(nats)[config].endswith("/" + credentials.CONFIG)


def test_every_vivian_container_has_its_roles_credentials():
    compose = _compose()
    secrets = compose["secrets"]
    command = compose["services"]["nats"]["command"]
    nats_dir = _mounts(compose["services"]["nats"])[command[command.index("-c") + 1]].rpartition("/")[0]
    runs = {name: svc for name, svc in compose["services"].items() if "build" in svc}
    assert runs.keys() >= {"edge", "keys", *roles.SERVICES}
    for name, svc in runs.items():
        role = name  # each container is named after its role (the key tool's is `keys`)
        assert role in roles.ROLES, name
        secret = f"nats_{role}"
        assert svc["secrets"] == [secret], name
        assert svc["environment"]["VIVIAN_NATS_CREDENTIALS"] == f"/run/secrets/{secret}", name
        directory, _, filename = secrets[secret]["file"].rpartition("/")
        assert filename == os.path.basename(credentials.BusAuth("x").path(role)), name
        assert directory == nats_dir, name  # the same directory the server's config comes from
