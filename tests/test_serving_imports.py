"""Serving never imports pickle, joblib or a training library (design.md: an artifact store must
not be a code-execution path, and workers must stay small).

Walks the import graph of every built service's api module through the project's own modules,
looking at every import statement (module level and inside functions).
"""
from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from services.common.registry import load_registry

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {"pickle", "cPickle", "joblib", "cloudpickle", "dill", "sklearn", "xgboost", "lightgbm"}
# The kernel's training layer (pandas frames, tqdm, converters): serving reaches none of it.
TRAINING_KERNEL = {f"services.common.{m}" for m in ("modeling", "backtest", "splits", "baselines", "export",
                                                   "reproducibility", "legacy_baselines", "training")}


def imported_names(path: Path, package: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{node.module}" if node.module else base
                names.add(module)
                names |= {f"{module}.{alias.name}" for alias in node.names}
            elif node.module:
                names.add(node.module)
    return names


def module_path(name: str) -> Path | None:
    parts = name.split(".")
    candidate = ROOT.joinpath(*parts)
    if candidate.with_suffix(".py").is_file():
        return candidate.with_suffix(".py")
    if (candidate / "__init__.py").is_file():
        return candidate / "__init__.py"
    return None


def serving_graph(entry: str) -> dict[str, set[str]]:
    """Every project module reachable from `entry`, with the imports it makes."""
    seen: dict[str, set[str]] = {}
    todo = [entry]
    while todo:
        name = todo.pop()
        path = module_path(name)
        if name in seen or path is None:
            continue
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        seen[name] = imported_names(path, package)
        todo += [n for n in seen[name] if n.split(".")[0] == "services"]
    return seen


SERVICES = [e.name for e in load_registry().services if importlib.util.find_spec(f"services.{e.name}.api")]


@pytest.mark.parametrize("service", SERVICES)
def test_serving_import_graph_has_no_pickle_or_training_library(service):
    graph = serving_graph(f"services.{service}.api")
    assert f"services.{service}.model" in graph, "the api must reach the model module"
    if importlib.util.find_spec(f"services.{service}.monitoring"):   # the app factory imports it by name
        graph.update(serving_graph(f"services.{service}.monitoring"))
        assert "services.common.monitoring" in graph
    offenders = {mod: sorted(n for n in names if n.split(".")[0] in FORBIDDEN) for mod, names in graph.items()}
    offenders = {mod: names for mod, names in offenders.items() if names}
    assert offenders == {}
    assert not any(m.endswith((".train", ".pipeline")) for m in graph), "serving reaches training code"
    assert not TRAINING_KERNEL & set(graph), "serving reaches the kernel's training layer"


def test_the_walker_would_catch_an_offender(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def load():\n    import joblib\n    from sklearn import tree\n")
    assert {"joblib", "sklearn"} <= imported_names(bad, "x")


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
print("TRAINING-MODULES:" + ",".join(sorted(m for m in {sorted(FORBIDDEN - {"pickle", "cPickle"})!r} if m in sys.modules)))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "TRAINING-MODULES:\n" in out.stdout + "\n", out.stdout[-500:]
