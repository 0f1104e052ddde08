"""The report renders a manifest that holds one training flow per segment (e.g. per competition)."""
from __future__ import annotations

import json

from services.common import evaluation as ev
from services.common.backtest import run
from services.common.baselines import LastValue, MeanByKey, SeasonalNaive
from services.common.export import dumps
from services.common.report import tables
from services.common.splits import RollingOrigin
from tests.common.test_export import seasonal_frame


def test_each_segment_gets_its_heading_tables_and_choice():
    def outcome(n_test):
        return run(seasonal_frame(140), RollingOrigin("ds", horizon=7, n_validation=3, n_test=n_test),
                   candidates=[SeasonalNaive(7, name="weekly")],
                   baselines=[MeanByKey(name="store_mean"), LastValue(name="last_value")],
                   metrics={"mae": ev.mae}, metric="mae")

    a, b = outcome(1), outcome(2)
    metrics = json.loads(dumps({"segments": {"north": a.metrics(), "south": b.metrics()},
                                "summary": a.summary}))
    text = tables(metrics)
    assert text.index("#### north") < text.index("#### south")
    north, south = text.split("#### south")
    assert "- test: 1 fold(s)" in north and "- test: 2 fold(s)" in south
    assert "| weekly **chosen** |" in north and "| store_mean (baseline) |" in south
    assert f"- choice: {b.choice.reason}" in south
    assert f"- summary: {a.summary['statement']}" in south.split("- choice:")[-1]   # the top-level summary, last


def test_fresh_report_prints_each_services_own_groups_after_the_summary():
    from services.common.fresh import render

    result = {"description": "d", "rows": 3, "summary": {"model": "m", "statement": "m beats b"},
              "fresh": {"m": {"mae": 1.0}, "b": {"mae": 2.0}},
              "anomaly": {"events": 4, "statement": "rule at its threshold: recall 0.5 of 4 events"},
              "skipped": ["one", "two", "three", "four"],
              "rows_left_out": {"past_the_served_weeks": 2, "unknown_store": 0}}
    lines = render(result).splitlines()
    at = lines.index("- summary: m beats b")
    assert lines[at + 1:] == ["- anomaly: rule at its threshold: recall 0.5 of 4 events",
                              "- skipped: 4 (one; two; three; ...)",
                              "- rows_left_out: past_the_served_weeks 2, unknown_store 0"]
