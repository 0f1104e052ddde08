"""Cleaning the attendance data, capacities fixed in data/, and the day-by-day walk (no leakage)."""
from __future__ import annotations

import pandas as pd
import pytest

from services.forecast import dataset
from services.forecast.features import FEATURE_NAMES


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


def test_capacities_come_from_the_files_not_the_crowds(frame):
    afcon = frame[frame["tournament"] == "AFCON 2025"]
    assert afcon["capacity_source"].str.startswith("AFCON").all()
    assert set(afcon["capacity"]) <= {45480, 45000, 45240, 69500, 22000, 21000, 18000, 75500}
    world_cup = frame[frame["competition"] == "world_cup"]
    table = pd.read_csv(dataset.DATA_DIR / dataset.WORLD_CUP_CAPACITIES)
    assert len(table) == len(world_cup.groupby(["stadium", "year"]))     # one row per stadium and year, all used
    joined = world_cup.merge(table, on=["stadium", "year"], suffixes=("", "_file"))
    assert (joined["capacity"] == joined["capacity_file"]).all()
    assert table["source"].str.len().gt(0).all() and table["source_ref"].str.len().gt(0).all()
    # Not a proxy: most stadiums never reach their capacity, the Maracana of 1950 held 200,000.
    peak = world_cup.groupby(["stadium", "year"])["fill"].max()
    assert (peak < 0.999).mean() > 0.5
    maracana = world_cup[world_cup["stadium"] == "Estadio do Maracana"].groupby("year")["capacity"].first()
    assert maracana.to_dict() == {1950: 200000, 2014: 74738}


def test_fill_is_attendance_over_capacity(frame):
    assert (frame["fill"] == frame["attendance"] / frame["capacity"]).all()
    assert frame["fill"].gt(0).all()
    assert (frame["fill"] > 1).sum() < 0.1 * len(frame)   # old terraces over the listed capacity (SOURCE.md)


def test_knockout_stages_and_hosts(frame):
    assert set(frame["stage"]) == {"Group Stage", "Round of 16", "Quarter-Finals", "Third Place",
                                   "Semi-Finals", "Final"}
    final_2014 = frame[(frame["year"] == 2014) & (frame["stage"] == "Final")]
    assert len(final_2014) == 1
    morocco = frame[(frame["tournament"] == "AFCON 2025") & ((frame["team_a"] == "Morocco") |
                                                            (frame["team_b"] == "Morocco"))]
    assert morocco["host_match"].all() and len(morocco) == 3


def test_walk_sees_only_earlier_days(frame):
    walked, _ = dataset.walk(frame)
    day = pd.Timestamp("2025-12-26")
    changed = frame.copy()
    later = (changed["day"] >= day).to_numpy()
    changed.loc[later, "attendance"] = 1.0        # crowds of that day and after must not move anything before
    changed.loc[later, "goals_a"] = 9
    changed["fill"] = changed["attendance"] / changed["capacity"]
    again, _ = dataset.walk(changed)
    columns = [c for c in walked.columns if c in FEATURE_NAMES]
    pd.testing.assert_frame_equal(walked.loc[changed["day"] <= day, columns], again.loc[changed["day"] <= day, columns])
    assert not walked.loc[changed["day"] > day, columns].equals(again.loc[changed["day"] > day, columns])


def test_first_matchday_knows_nothing_of_its_tournament(frame):
    walked, _ = dataset.walk(frame)
    opening = walked[walked["tournament"] == "AFCON 2025"].iloc[0]
    assert opening["venue_matches"] == 0 and opening["team_matches_low"] == 0 and opening["days_in"] == 0
    # No AFCON before it: the prior is every World Cup match's fill (clipped at 1).
    world_cup = frame.loc[frame["competition"] == "world_cup", "fill"].clip(upper=1.0)
    assert opening["tournament_fill"] == pytest.approx(world_cup.mean())


def test_state_for_serving_continues_each_tournament(frame):
    walked, state = dataset.walk(frame)
    afcon = state["tournaments"]["AFCON 2025"]
    assert afcon["start"] == "2025-12-21" and afcon["last_day"] == "2025-12-31" and len(afcon["played"]) == 36
    assert afcon["hosts"] == ["Morocco"]
    # What AFCON 2025's own rows saw when it began: every World Cup, no AFCON.
    assert set(afcon["competition_fill"]) == {"world_cup"}
    assert afcon["competition_fill"]["world_cup"][1] == (frame["competition"] == "world_cup").sum()
    assert "afcon|Group Stage" in state["stage_fill"]
