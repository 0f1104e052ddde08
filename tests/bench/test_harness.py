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
    assert len(cells) == len(COLUMNS) and "n/a" not in cells[:-2]  # training time is skipped in --quick
    assert cells[-2] == "n/a" and len(cells[-1].split("/")) == 3  # the load average beside the figures
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

    # Monitoring under sustained load ran on the same model: sales /actuals at 200/s (3 s in --quick).
    actuals = results["memory"]["actuals"]
    assert [a["service"] for a in actuals] == ["sales"] and actuals[0]["errors"] == 0
    assert actuals[0]["sent"] == 600 and set(actuals[0]["statuses"]) <= {"200", "201"}
    assert "## Monitoring under sustained load" in text
    assert "| sales `POST /actuals` at 200/s for 3 s, 0 errors | 0 errors of 600" in text

    # `python -m bench.report` re-renders the same RESULTS.md from results.json
    (out / "RESULTS.md").unlink()
    again = subprocess.run([sys.executable, "-m", "bench.report", str(out / "results.json")], cwd=ROOT,
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr[-2000:]
    assert (out / "RESULTS.md").read_text() == text


def test_memory_targets_say_not_met_when_a_worker_outgrows_the_bound():
    from bench.memory import RSS_TARGET_MB, render, targets

    flow = {"seconds": 600.0, "requests": 100, "errors": 0, "readings_per_s": 9000.0, "rss_start_mb": 90.0,
            "rss_max_mb": RSS_TARGET_MB + 1.0, "rss_last_mb": 140.0, "rss_after_flush_mb": 120.0, "dropped": 3.0,
            "dropped_rows": 1500.0, "queue_peak_rows": 4000.0, "load": "1.00/1.00/1.00"}
    actual = {"service": "demand", "distinct_actuals": 10, "sent": 12000, "seconds": 60.0, "rps": 200.0,
              "ok": 11999, "errors": 1, "statuses": {200: 11999, 503: 1}, "p50_ms": 5.0, "p99_ms": 90.0,
              "load": "1.00/1.00/1.00"}
    mem = {"ingest_seconds": 600.0, "actuals_seconds": 60.0, "rate": 200.0, "flow_on": flow,
           "flow_off": {**flow, "rss_max_mb": 100.0}, "actuals": [actual]}
    (rss_target, rss_measured, rss_ok), (act_target, _, act_ok) = targets(mem)
    assert "after 10 min" in rss_target and "3 batches (1500 rows) dropped" in rss_measured and not rss_ok
    assert "0 errors" in act_target and not act_ok
    assert targets({**mem, "flow_on": {**flow, "rss_max_mb": 120.0}, "actuals": [{**actual, "errors": 0}]})[0][2]
    text = "\n".join(render(mem))
    assert "| rss_max_mb | 151.0 | 100.0 |" in text and "Worker RSS max, on / off: 1.510x" in text
