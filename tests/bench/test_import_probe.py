"""The harness's import probe on a service whose model loads lazily (in the holder's thread, after create_app)."""
from __future__ import annotations

from bench.run import TRAINING_LIBS, import_probe
from services.common.store import ModelStore


def test_import_probe_waits_for_the_lazy_first_load(sales_artifact, tmp_path):
    store = tmp_path / "store"
    ModelStore(store.as_uri(), tmp_path / "cache").publish("sales", sales_artifact)
    probe = import_probe("sales", store.as_uri(), tmp_path)
    assert "error" not in probe, probe  # asserting a model right after create_app failed: it was still loading
    assert probe["create_and_load_s"] > 0 and probe["load_s"] >= probe["import_s"] > 0
    assert not set(probe["imported"]) & set(TRAINING_LIBS), probe["imported"]
    assert {"onnxruntime", "numpy", "flask"} <= set(probe["heavy_modules"])
