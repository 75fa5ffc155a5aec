"""What a `python -m MODULE` process reads from its environment, found in the code, for the checks
on docker-compose.yml (tests/test_compose.py) and the Kubernetes manifests (tests/test_deploy.py).

A service reads one settings struct (`VIVIAN_<FIELD>` for each field, shared/settings.py): the one
its module passes to `from_env(...)` or to `services.kit.main.run(name, settings, parts)`. Every
process serving a `BusService` also reads the liveness variables (services/kit/liveness.py), and
any process the OpenTelemetry ones (shared/telemetry.py).
"""

import ast
import importlib
import importlib.util
from pathlib import Path

import msgspec

from services.kit import liveness
from shared.settings import PREFIX

# The processes that serve no BusService, and so never touch the liveness file.
NOT_BUS_SERVICES = frozenset({"services.edge", "services.edge.keys"})


def source_of(module: str) -> Path | None:
    """The file `python -m module` runs, or None when it would fail."""
    try:
        spec = importlib.util.find_spec(module)
    except ModuleNotFoundError:  # a parent package is missing
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations is not None:  # a package: its __main__
        found = [Path(d) / "__main__.py" for d in spec.submodule_search_locations]
        return next((p for p in found if p.is_file()), None)
    return Path(spec.origin) if spec.origin and Path(spec.origin).is_file() else None


def runnable(module: str) -> bool:
    return source_of(module) is not None


def settings_of(module: str) -> type[msgspec.Struct]:
    """The settings struct `python -m module` reads."""
    path = source_of(module)
    assert path is not None, f"python -m {module} would fail: no such module"
    passed = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        if name == "from_env" and node.args:
            passed.add(ast.unparse(node.args[0]))
        elif name == "run" and len(node.args) >= 2 and isinstance(node.args[0], ast.Constant):
            passed.add(ast.unparse(node.args[1]))
    assert len(passed) == 1, f"{path}: expected one settings struct passed to from_env or main.run, found {passed}"
    importable = f"{module}.__main__" if path.name == "__main__.py" else module
    settings = eval(passed.pop(), vars(importlib.import_module(importable)))  # a name or a dotted name
    assert isinstance(settings, type) and issubclass(settings, msgspec.Struct), (module, settings)
    return settings


def env_names(module: str) -> set[str]:
    """Every `VIVIAN_*` variable `python -m module` reads."""
    names = {PREFIX + field.name.upper() for field in msgspec.structs.fields(settings_of(module))}
    if module not in NOT_BUS_SERVICES:
        names |= {liveness.FILE, liveness.MAX_AGE}
    return names


def unknown_env(module: str, env: set[str]) -> set[str]:
    """The variables in `env` that `python -m module` would not read (OTEL_* are read by any)."""
    return {name for name in env if not name.startswith("OTEL_")} - env_names(module)
