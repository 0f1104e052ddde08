"""The shared feature function and the request parsing it relies on."""
from __future__ import annotations

import pytest

from services.forecast.features import (FEATURE_NAMES, TeamStats, canonical_stage, feature_row, interval,
                                        kickoff_hour, normalize)


@pytest.mark.parametrize("text,stage", [
    ("Group Stage", "Group Stage"), ("group b", "Group Stage"), ("GROUP", "Group Stage"),
    ("Round of 16", "Round of 16"), ("last 16", "Round of 16"), ("R16", "Round of 16"),
    ("Quarter-Finals", "Quarter-Finals"), ("quarterfinal", "Quarter-Finals"),
    ("Semi-Final", "Semi-Finals"), ("Semi-Final(s)", "Semi-Finals"), ("semi-finals", "Semi-Finals"),
    ("Match for third place", "Third Place"), ("Play-off for third place", "Third Place"),
    ("Final", "Final"), ("final", "Final"),
])
def test_stage_aliases(text, stage):
    assert canonical_stage(text) == stage


@pytest.mark.parametrize("text", ["Quarter", "Group Z9", "", "Finale Grande"])
def test_unknown_stages(text):
    assert canonical_stage(text) is None


@pytest.mark.parametrize("text,hour", [("21:00", 21.0), ("9:30", 9.5), ("Night", 21.0), ("afternoon", 15.0),
                                       ("EVENING", 18.0), ("00:00", 0.0), ("23:59", 23 + 59 / 60)])
def test_kickoff_hour(text, hour):
    assert kickoff_hour(text) == pytest.approx(hour)


@pytest.mark.parametrize("text", ["24:00", "21:60", "9pm", "Morning", "", "21"])
def test_bad_kickoff_times(text):
    assert kickoff_hour(text) is None


def test_normalize_folds_case_accents_punctuation():
    assert normalize("Stade Vélodrome") == "stade velodrome"
    assert normalize("  Grand-Stade de Marrakech ") == "grand stade de marrakech"


def test_feature_row_is_symmetric_in_the_teams():
    a, b = TeamStats(0.9, 2.0, 10), TeamStats(0.5, 0.8, 2)
    kwargs = dict(capacity=45000, stage="Final", hour=21.0, host_match=True, afcon=True, year=2025)
    row = feature_row(team_a=a, team_b=b, **kwargs)
    assert row == feature_row(team_a=b, team_b=a, **kwargs)
    assert len(row) == len(FEATURE_NAMES)
    named = dict(zip(FEATURE_NAMES, row))
    assert named["draw_high"] == 0.9 and named["draw_low"] == 0.5 and named["stage_order"] == 4.0


def test_interval_is_clipped_to_capacity():
    point, lower, upper = interval(0.95, 0.2, 10000)
    assert (point, lower, upper) == pytest.approx((9500, 7500, 10000))
    point, lower, upper = interval(-0.1, 0.2, 10000)
    assert point == 0 and lower == 0 and upper == pytest.approx(1000)
