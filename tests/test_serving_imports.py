"""Serving never imports pickle, joblib or a training library (design.md: an artifact store must
not be a code-execution path, and workers and images must stay small).

Walks the import graph of every built service's api module through the project's own modules,
looking at every import statement (module level and inside functions). The forbidden set is not
typed here: it is every distribution the `train` extra of pyproject.toml pulls in that the serving
dependencies do not, mapped to the module names it installs; so a training library added to the
extra is forbidden in serving from that commit on.
"""
from __future__ import annotations

import ast
import importlib.metadata as metadata
import importlib.util
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from services.common.registry import load_registry

ROOT = Path(__file__).resolve().parents[1]
STDLIB_PICKLERS = {"pickle", "cPickle", "_pickle", "shelve", "marshal"}  # loaded by the stdlib itself
PICKLERS = STDLIB_PICKLERS | {"joblib", "cloudpickle", "dill"}

# The kernel's training layer (pandas frames, tqdm, converters): serving reaches none of it.
TRAINING_KERNEL = {f"services.common.{m}" for m in ("modeling", "backtest", "splits", "baselines", "export",
                                                   "reproducibility", "training")}

# Serving modules that hold training-time functions importing a training library inside them
# (never at module level): serving never calls those functions, and the image does not install
# the library, so a call from a serving path fails the container tier's real requests.
# module -> library.
TRAINING_ONLY_FUNCTIONS = {
    # sales fits its ARIMA with statsmodels at training (fit); serving forecasts in closed form
    # (arima.forecast), and forecast_statsmodels is the reference the tests compare it to.
    "services.sales.arima": "statsmodels",
    # powerball ships training's chi-square p-values; only versions trained before that
    # (none were ever deployed) would compute one at load (stats.chi2_survival).
    "services.powerball.stats": "scipy",
}


def _name(requirement: str) -> str:
    return re.sub(r"[-_.]+", "-", Requirement(requirement).name).lower()


def distribution_closure(requirements: list[str]) -> set[str]:
    """Normalised names of the distributions `requirements` install, recursively (installed metadata)."""
    seen: set[str] = set()
    todo = list(requirements)
    while todo:
        req = Requirement(todo.pop())
        name = _name(str(req))
        if name in seen or (req.marker is not None and not req.marker.evaluate({"extra": ""})):
            continue
        seen.add(name)
        todo += metadata.distribution(name).requires or []
    return seen


def dependency_sets() -> tuple[set[str], set[str]]:
    """(serving distributions, distributions only training installs)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    serving = distribution_closure(project["dependencies"])
    training = distribution_closure(project["optional-dependencies"]["train"])
    return serving, training - serving


def training_modules() -> set[str]:
    """Top-level module names installed by the training-only distributions."""
    _, training_only = dependency_sets()
    modules = set()
    for module, dists in metadata.packages_distributions().items():
        if any(_name(d) in training_only for d in dists):
            modules.add(module)
    return modules


FORBIDDEN = PICKLERS | training_modules()


def imports(path: Path, package: str) -> list[tuple[str, str | None]]:
    """(imported module name, enclosing function or None) for every import statement."""
    found: list[tuple[str, str | None]] = []

    def visit(node: ast.AST, function: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else function
            if isinstance(child, ast.Import):
                found.extend((alias.name, function) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.rsplit(".", child.level - 1)[0] if child.level > 1 else package
                    module = f"{base}.{child.module}" if child.module else base
                    found.append((module, function))
                    found.extend((f"{module}.{alias.name}", function) for alias in child.names)
                elif child.module:
                    found.append((child.module, function))
            visit(child, inner)

    visit(ast.parse(path.read_text()), None)
    return found


def imported_names(path: Path, package: str) -> set[str]:
    return {name for name, _ in imports(path, package)}


def module_path(name: str) -> Path | None:
    parts = name.split(".")
    candidate = ROOT.joinpath(*parts)
    if candidate.with_suffix(".py").is_file():
        return candidate.with_suffix(".py")
    if (candidate / "__init__.py").is_file():
        return candidate / "__init__.py"
    return None


def serving_graph(entry: str) -> dict[str, list[tuple[str, str | None]]]:
    """Every project module reachable from `entry`, with the imports it makes."""
    seen: dict[str, list[tuple[str, str | None]]] = {}
    todo = [entry]
    while todo:
        name = todo.pop()
        path = module_path(name)
        if name in seen or path is None:
            continue
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        seen[name] = imports(path, package)
        todo += [n for n, _ in seen[name] if n.split(".")[0] == "services"]
    return seen


def offenders(graph: dict[str, list[tuple[str, str | None]]]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for module, names in graph.items():
        for name, function in names:
            top = name.split(".")[0]
            if top not in FORBIDDEN:
                continue
            if top not in PICKLERS and function is not None and TRAINING_ONLY_FUNCTIONS.get(module) == top:
                continue
            found.setdefault(module, []).append(f"{name} (in {function or 'module level'})")
    return found


SERVICES = [e.name for e in load_registry().services if importlib.util.find_spec(f"services.{e.name}.api")]


def test_the_forbidden_set_covers_the_training_libraries():
    """Derived from pyproject.toml, it must hold what the issue names (or the derivation broke)."""
    assert {"pandas", "scipy", "statsmodels", "sklearn", "xgboost", "lightgbm", "onnx", "skl2onnx"} <= FORBIDDEN
    assert not {"numpy", "onnxruntime", "flask", "boto3", "pydantic"} & FORBIDDEN


@pytest.mark.parametrize("service", SERVICES)
def test_serving_import_graph_has_no_pickle_or_training_library(service):
    graph = serving_graph(f"services.{service}.api")
    assert f"services.{service}.model" in graph, "the api must reach the model module"
    if importlib.util.find_spec(f"services.{service}.monitoring"):   # the app factory imports it by name
        graph.update(serving_graph(f"services.{service}.monitoring"))
        assert "services.common.monitoring" in graph
    assert offenders(graph) == {}
    assert not any(m.endswith((".train", ".pipeline")) for m in graph), "serving reaches training code"
    assert not TRAINING_KERNEL & set(graph), "serving reaches the kernel's training layer"


def test_allowed_training_only_functions_still_exist():
    """A stale allowance would hide nothing, but would let the next import there pass unseen."""
    for module, library in TRAINING_ONLY_FUNCTIONS.items():
        path = module_path(module)
        assert path is not None, module
        found = imports(path, module.rsplit(".", 1)[0])
        assert any(n.split(".")[0] == library and f is not None for n, f in found), (module, library)
        assert not any(n.split(".")[0] == library and f is None for n, f in found), f"{module} imports {library} at load"


def test_the_walker_would_catch_an_offender(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import pandas\ndef load():\n    import joblib\n    from sklearn import tree\n")
    assert {"joblib", "sklearn", "pandas"} <= imported_names(bad, "x")
    graph = {"services.x.model": imports(bad, "services.x")}
    assert set(offenders(graph)["services.x.model"]) == {
        "pandas (in module level)", "joblib (in load)", "sklearn (in load)"}


def test_sales_worker_loads_and_serves_without_training_libraries(sales_artifact, tmp_path):
    """At run time too: after loading a real model and answering, no training module is loaded."""
    code = f"""
import sys
from services.common.store import ModelStore
from services.common.config import load_settings
uri = {(tmp_path / 'store').as_uri()!r}
ModelStore(uri).publish("sales", __import__("pathlib").Path({str(sales_artifact)!r}))
from services.sales.api import create_app
app = create_app(load_settings(model_store_uri=uri, model_cache_dir={str(tmp_path / 'cache')!r}),
                 start_model_refresh=False)
assert app.extensions["model_holder"].refresh()
r = app.test_client().post("/api/sales/forecast", json={{"store_id": 1, "steps": 2}})
assert r.status_code == 200, r.json
print("TRAINING-MODULES:" + ",".join(sorted(m for m in {sorted(FORBIDDEN - STDLIB_PICKLERS)!r} if m in sys.modules)))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "TRAINING-MODULES:\n" in out.stdout + "\n", out.stdout[-500:]
