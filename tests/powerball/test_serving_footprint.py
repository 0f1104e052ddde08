"""A serving worker loads the model and answers /stats without importing scipy (its p-values
come from training), and refuses statistics that do not belong to the shipped draws."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from services.common.manifest import build_manifest
from services.powerball.model import PowerballModel
from tests.conftest import ROOT


def test_worker_serves_stats_without_scipy(powerball_trained, tmp_path):
    code = f"""
import sys
from services.common.config import load_settings
from services.powerball.api import create_app
app = create_app(load_settings(model_store_uri={powerball_trained['store_uri']!r},
                               model_cache_dir={str(tmp_path / 'cache')!r}), start_model_refresh=False)
assert app.extensions["model_holder"].refresh()
body = app.test_client().get("/api/powerball/stats").json
print("P", body["white_balls"]["uniformity"]["p_value"], "scipy" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("P ")][-1]
    _, p_value, scipy_loaded = line.split()
    assert scipy_loaded == "False"
    assert 0.0 < float(p_value) <= 1.0


def test_loader_refuses_statistics_of_other_draws(powerball_artifact, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(powerball_artifact, copy)
    spec = json.loads((copy / "model.json").read_text())
    spec["uniformity"]["white"]["statistic"] += 1.0
    (copy / "model.json").write_text(json.dumps(spec))
    manifest = build_manifest(copy, service="powerball", version="tampered", metrics={}, features=[],
                              data_fingerprint="x", libraries=[])
    with pytest.raises(ValueError, match="chi-square"):
        PowerballModel(copy, manifest)


def test_versions_without_shipped_p_values_still_load(powerball_artifact, tmp_path):
    copy = tmp_path / "old"
    shutil.copytree(powerball_artifact, copy)
    spec = json.loads((copy / "model.json").read_text())
    shipped = spec.pop("uniformity")
    (copy / "model.json").write_text(json.dumps(spec))
    manifest = build_manifest(copy, service="powerball", version="older", metrics={}, features=[],
                              data_fingerprint="x", libraries=[])
    model = PowerballModel(copy, manifest)
    assert model.white_stats["uniformity"]["p_value"] == pytest.approx(shipped["white"]["p_value"], rel=1e-12)
