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
