"""Cleaning the attendance data and the team history (no leakage)."""
from __future__ import annotations

import pandas as pd
import pytest

from services.forecast import dataset


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return dataset.load_matches()


def test_cleaning_follows_source_notes(frame):
    world_cup = frame[~frame["tournament"].str.startswith("AFCON")]
    # 852 rows - 16 duplicates = 836 matches, minus the one without attendance.
    assert len(world_cup) == 835
    assert len(world_cup[world_cup["year"] == 2014]) == 63
    assert (frame["tournament"] == "AFCON 2025").sum() == 36
    text = pd.concat([frame["stadium"], frame["team_a"], frame["team_b"], frame["city"]])
    assert not text.str.contains("\ufffd").any() and not text.str.contains('rn">').any()
    assert (text == text.str.strip()).all()
    assert "Ivory Coast" in set(frame["team_a"]) | set(frame["team_b"])
    assert "Germany FR" not in set(frame["team_a"]) | set(frame["team_b"])


def test_capacity_and_fill(frame):
    assert frame["fill"].between(0, 1).all()
    assert (frame["attendance"] <= frame["capacity"]).all()
    afcon = frame[frame["tournament"] == "AFCON 2025"]
    assert afcon["capacity_source"].str.startswith("AFCON").all()
    assert set(afcon["capacity"]) <= {45480, 45000, 45240, 69500, 22000, 21000, 18000, 75500}
    proxy = frame[~frame["tournament"].str.startswith("AFCON")]
    assert (proxy.groupby("stadium")["fill"].max() == 1.0).all()  # max crowd defines the proxy


def test_knockout_stages_and_hosts(frame):
    assert set(frame["stage"]) == {"Group Stage", "Round of 16", "Quarter-Finals", "Third Place",
                                   "Semi-Finals", "Final"}
    final_2014 = frame[(frame["year"] == 2014) & (frame["stage"] == "Final")]
    assert len(final_2014) == 1
    morocco = frame[(frame["tournament"] == "AFCON 2025") & ((frame["team_a"] == "Morocco") |
                                                            (frame["team_b"] == "Morocco"))]
    assert morocco["host_match"].all() and len(morocco) == 3


def test_team_history_uses_earlier_matches_only(frame):
    prior_fill, prior_points = dataset.priors(frame)
    before, _ = dataset.build_history(frame, prior_fill, prior_points)
    changed = frame.copy()
    last = changed.index[-1]
    changed.loc[last, "fill"] = 0.0  # the future must not move anything before it
    changed.loc[last, "goals_a"] = 9
    before_changed, _ = dataset.build_history(changed, prior_fill, prior_points)
    assert before_changed == before
    first = frame.index[0]
    assert before[first][0].matches == 0 and before[first][0].draw == pytest.approx(prior_fill)
