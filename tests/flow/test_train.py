"""Training: the manifest carries held-out wait metrics beside Little's law and anomaly P/R/F1."""
from __future__ import annotations

import json

from services.flow.features import FEATURE_NAMES, Reading, feature_matrix, windows_from_series


def test_manifest_metrics(flow_artifact):
    manifest = json.loads((flow_artifact / "manifest.json").read_text())
    m = manifest["metrics"]
    assert set(m["holdout"]["days"]["test"]).isdisjoint(m["holdout"]["days"]["train"])
    for name in ("lightgbm", "littles_law", "throughput_naive"):
        assert m["wait"][name]["mae"] > 0 and m["wait"][name]["p90_abs_error"] > 0
    for name in ("isolation_forest", "ratio_rule"):
        assert {"precision", "recall", "f1"} <= set(m["anomaly"][name])
    assert m["summary"]["baseline"] == "littles_law" and "statement" in m["summary"]
    assert m["anomaly"]["served"] in ("isolation_forest", "ratio_rule")
    assert {"wait.onnx", "flow.json", "flow_anomaly.json"} <= set(manifest["files"])


def test_feature_function_handles_short_windows_and_gaps():
    series = [Reading(60_000 * m, 30, 6.0, 10 * m, 8) for m in (0, 1, 3)]
    x = feature_matrix(windows_from_series(series))
    assert x.shape == (3, len(FEATURE_NAMES))
    assert x[2, FEATURE_NAMES.index("gap_minutes")] == 2.0
    assert x[0, FEATURE_NAMES.index("history")] == 1.0


def test_notebook_runs_small(tmp_path):
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    env = {**os.environ, "NOTEBOOK_SMALL": "1", "NOTEBOOK_OUTPUT": str(tmp_path), "MPLBACKEND": "Agg"}
    out = subprocess.run([sys.executable, str(ROOT / "notebooks" / "flow.py")], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Little" in out.stdout and (tmp_path / "flow_mae.png").is_file()
