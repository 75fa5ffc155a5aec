"""README's route table ("Where the code is") against the code: every path the edge serves has its
row, naming the edge's route module and every subject that route publishes to, and each handler
module the row names exists."""

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

from services.edge import routes
from shared import subjects

ROOT = Path(__file__).resolve().parent.parent
ROW = re.compile(r"^\| `(\w+) ([^`]+)` \| `(\w+)\.py` \| (.*?) \| (.*?) \|$", re.M)


def _subjects_of(handler) -> set[str]:
    """The subjects a route's handler publishes to: named in its code, or (a handler made by
    `relay.by_id` / `by_query`) held in its closure."""
    values = {value for value in vars(subjects).values() if isinstance(value, str)}
    if handler.__closure__:
        return {c.cell_contents for c in handler.__closure__
                if isinstance(c.cell_contents, str) and c.cell_contents in values}
    names = re.findall(r"subjects\.([A-Z_]+)", inspect.getsource(handler))
    return {getattr(subjects, name) for name in names if name != "SERVICES"}


def _edge_routes():
    for info in pkgutil.iter_modules(routes.__path__):
        module = importlib.import_module(f"services.edge.routes.{info.name}")
        for route in module.routes:
            path = re.sub(r"\{(\w+):[^}]+\}", r"{\1}", route.path)
            yield route.method, path, info.name, _subjects_of(route.handler)


def _table() -> dict[tuple[str, str], tuple[str, set[str], list[str]]]:
    readme = (ROOT / "README.md").read_text()
    rows = {}
    for method, path, module, subject_cell, handler_cell in ROW.findall(readme):
        rows[(method, path)] = (module, set(re.findall(r"`(vivian\.[\w.]+)`", subject_cell)),
                                re.findall(r"`([\w/]+(?:\.py|/))`", handler_cell))
    return rows


def test_every_edge_route_is_in_the_readme_table():
    table = _table()
    assert table, "README has no route table"
    for method, path, module, used in _edge_routes():
        assert (method, path) in table, f"{method} {path} has no row in README's route table"
        row_module, row_subjects, _ = table[(method, path)]
        assert row_module == module, f"{method} {path}: README says routes/{row_module}.py, it is {module}.py"
        assert row_subjects == used, f"{method} {path}: README says {sorted(row_subjects)}, the route uses {sorted(used)}"


def test_every_row_is_a_route_and_names_modules_that_exist():
    served = {(method, path) for method, path, _, _ in _edge_routes()}
    for (method, path), (_, _, handlers) in _table().items():
        assert (method, path) in served, f"README's route table lists {method} {path}, which the edge does not serve"
        for handler in handlers:
            assert (ROOT / "services" / handler).exists(), f"{method} {path}: services/{handler} does not exist"
