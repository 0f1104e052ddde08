"""Smoke run of the performance harness: --quick, sales only, ~1 s load runs, a report with every column."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_quick_run_reports_every_column(sales_artifact, tmp_path):
    from bench.report import COLUMNS
    from services.common.store import ModelStore

    store = tmp_path / "store"
    ModelStore(store.as_uri(), tmp_path / "cache").publish("sales", sales_artifact)
    out = tmp_path / "report"
    proc = subprocess.run([sys.executable, "-m", "bench.run", "--quick", "--services", "sales", "--seconds", "1",
                           "--store", str(store), "--output", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]

    text = (out / "RESULTS.md").read_text()
    header = next(line for line in text.splitlines() if line.startswith("| service |"))
    assert [c.strip() for c in header.strip("|").split("|")] == COLUMNS
    rows = [line for line in text.splitlines() if line.startswith("| sales | POST /predict |")]
    assert len(rows) == 1
    cells = [c.strip() for c in rows[0].strip("|").split("|")]
    assert len(cells) == len(COLUMNS) and "n/a" not in cells[:-1]  # training time is skipped in --quick
    for heading in ("## Machine and run", "## Targets", "## Batch predictions", "CPUs"):
        assert heading in text
    assert "--quick --services sales" in text

    results = json.loads((out / "results.json").read_text())
    sales = results["services"]["sales"]
    main = next(e for e in sales["endpoints"] if e["main"])
    assert main["rps"] > 0 and main["errors"] == 0 and main["p99_ms"] >= main["p50_ms"] > 0
    assert sales["noop"]["rps"] > 0 and sales["noop"]["errors"] == 0
    assert sales["seed"]["rps"] > 0 and sales["seed"]["errors"] == 0
    assert all(r > 0 for r in sales["worker_rss_mb"]) and len(sales["worker_rss_mb"]) == 2
    assert 0 < sales["cold_start"]["median_s"] < 60
    assert "statsmodels" not in sales["imports"]["imported"] and "sklearn" not in sales["imports"]["imported"]
    assert {b["file"] for b in sales["onnx_batch"]} == {"random_forest.onnx", "xgboost.onnx"}
    prof = sales["profile"]  # the in-process target: the main endpoint against a bare Flask JSON POST
    assert prof["x_bare"]["POST /predict"] > 0 and prof["bare_us"]["POST /predict"] > 0 and prof["noop_us"] > 0
    assert "in-process <= 1.6x a bare Flask JSON POST" in text
