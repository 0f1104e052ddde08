"""The sealed headline and the fresh-data check: trained on draws up to a date, scored on the later
shipped draws by `report --fresh`, recomputed here from the served artifact and the raw CSV."""
from __future__ import annotations

import json

import numpy as np
import pytest

from services.common.report import main as report
from services.powerball import train
from tests.powerball.conftest import CSV

UNTIL = "2025-03-01"


@pytest.fixture(scope="module")
def until_build(tmp_path_factory):
    out = tmp_path_factory.mktemp("powerball-until") / "build"
    manifest = train.main(["--rounds", "3", "--quiet", "--no-publish", "--output", str(out), "--until", UNTIL])
    return out, manifest


def test_the_headline_carries_its_seal_interval_and_spread_over_seeds(powerball_manifest):
    metrics = powerball_manifest["metrics"]
    assert len(metrics["sealed"]["choice_sha256"]) == 64 and metrics["sealed"]["test_scored"] == 1
    interval = metrics["summary"]["ratio_interval"]
    assert interval["block"] == "draw" and interval["blocks"] == train.HOLDOUT
    assert interval["low"] <= metrics["summary"]["ratio_to_baseline"] <= interval["high"]
    spread = metrics["seeds"]["test"]
    assert spread["seeds"] == list(train.SEEDS) and len(set(spread["values"])) == len(train.SEEDS)


def test_until_leaves_the_later_draws_out_of_training(until_build):
    out, manifest = until_build
    assert manifest["data_end"] <= UNTIL and manifest["training"]["until"] == UNTIL
    shipped = json.loads((out / "draws.json").read_text())["draws"]
    assert max(d["date"] for d in shipped) == manifest["data_end"]


def test_fresh_command_scores_the_later_draws_as_serving_would(until_build, capsys):
    out, manifest = until_build
    assert report(["--fresh", "powerball", str(CSV), "--manifest", str(out / "manifest.json"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    later = sorted(d.date.isoformat() for d in train.load_draws()[1] if d.date.isoformat() > manifest["data_end"])
    assert result["rows"] == len(later) * (69 + 26)
    assert result["fresh"]["uniform"]["log_loss_per_ball"] == pytest.approx((5 * np.log(69) + np.log(26)) / 6)
    assert result["summary"]["ratio_interval"]["blocks"] == len(later)
    assert result["summary"]["model"] == manifest["metrics"]["choice"]["chosen"]
    # the first later draw is the served model's own next draw: its probabilities are what serving loads
    from services.powerball import fresh
    from services.powerball.model import load

    served = load(out, manifest)
    table = fresh.evaluate(out, manifest, CSV).table
    first = table[(table["model"] == result["summary"]["model"]) & (table["date"] == later[0])]
    np.testing.assert_allclose(first.loc[first["pool"] == "white", "prediction"], served.white_weights / 5,
                               atol=1e-6)
    np.testing.assert_allclose(first.loc[first["pool"] == "powerball", "prediction"], served.powerball_probs,
                               atol=1e-6)
    # and the table's log loss is the report's
    chosen = table[table["model"] == result["summary"]["model"]]
    hit = chosen["actual"] > 0
    assert -np.log(chosen.loc[hit, "prediction"]).mean() == pytest.approx(
        result["fresh"][result["summary"]["model"]]["log_loss_per_ball"])

    assert report(["--fresh", "powerball", str(CSV), "--manifest", str(out / "manifest.json")]) == 0
    text = capsys.readouterr().out
    assert f"{len(later)} later draws" in text and "**served**" in text and "interval" in text
