"""Trained on matches up to a date, the later shipped matches scored by `report --fresh` as serving
predicts them; a file that is not in the shipped schema is refused with a clear FreshDataError."""
from __future__ import annotations

import json

import pytest

from services.common.fresh import FreshDataError
from services.common.report import main as report
from services.forecast import dataset, fresh, train
from services.forecast.model import ForecastModel

UNTIL = "2025-12-28"


@pytest.fixture(scope="module")
def until_build(tmp_path_factory):
    out = tmp_path_factory.mktemp("forecast-until") / "build"
    manifest = train.main(["--limit", "150", "--quiet", "--no-publish", "--output", str(out), "--until", UNTIL])
    return out, manifest


def test_until_leaves_the_later_matches_out_of_training(until_build):
    _, manifest = until_build
    assert manifest["data_end"] <= UNTIL and manifest["training"]["until"] == UNTIL


def test_fresh_command_scores_the_later_matches_as_serving_would(until_build, capsys):
    out, manifest = until_build
    later = dataset.load_matches(dataset.DATA_DIR)
    later = later[later["day"].dt.strftime("%Y-%m-%d") > manifest["data_end"]]
    assert report(["--fresh", "forecast", str(dataset.DATA_DIR / dataset.AFCON), "--manifest", str(out / "manifest.json"),
                   "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["rows"] == len(later) - len(result.get("skipped", []))
    assert set(result["fresh"]) == {result["summary"]["model"], *train.BASELINE_COLUMNS} - (
        set() if result["summary"]["model"] not in train.BASELINE_COLUMNS else set())
    assert result["summary"]["ratio_interval"]["block"] == "day"
    assert result["summary"]["ratio_interval"]["blocks"] >= 2
    assert "stage" in result["coverage"] and "competition" in result["coverage"]
    # the served model's first later match is what serving answers for it
    table = fresh.evaluate(out, manifest, dataset.DATA_DIR).table
    r = later.iloc[0]
    answer = ForecastModel(out, manifest).predict(team_a=r.team_a, team_b=r.team_b, stadium=r.stadium,
                                                 hour=float(r.hour), stage=r.stage, day=r.day.date())
    first = table[(table["model"] == result["summary"]["model"]) & (table["row"] == 0)].iloc[0]
    assert first["prediction"] == answer["predicted_attendance"]
    assert [first["lower"], first["upper"]] == answer["confidence_interval"]


def test_a_folder_without_the_shipped_files_is_refused(until_build, tmp_path):
    out, manifest = until_build
    (tmp_path / "matches.csv").write_text("a,b\n1,2\n")
    with pytest.raises(FreshDataError, match="missing"):
        fresh.evaluate(out, manifest, tmp_path / "matches.csv")
