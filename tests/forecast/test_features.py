"""The shared feature function and the request parsing it relies on."""
from __future__ import annotations

import pytest

from datetime import date

from services.forecast.features import (FEATURE_NAMES, Known, Match, Played, canonical_stage, feature_vector,
                                        interval, kickoff_hour, match_features, normalize, served_fill)


@pytest.mark.parametrize("text,stage", [
    ("Group Stage", "Group Stage"), ("group b", "Group Stage"), ("GROUP", "Group Stage"),
    ("Round of 16", "Round of 16"), ("last 16", "Round of 16"), ("R16", "Round of 16"),
    ("Quarter-Finals", "Quarter-Finals"), ("quarterfinal", "Quarter-Finals"),
    ("Semi-Final", "Semi-Finals"), ("Semi-Final(s)", "Semi-Finals"), ("semi-finals", "Semi-Finals"),
    ("Match for third place", "Third Place"), ("Play-off for third place", "Third Place"),
    ("Third-place match", "Third Place"), ("3rd Place Play-off", "Third Place"),
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


MATCH = Match(competition="afcon", stadium="Stade Mohammed V", capacity=45000.0, team_a="Morocco",
              team_b="Senegal", stage="Final", hour=20.0, day=date(2026, 1, 18), start=date(2025, 12, 21),
              hosts=("Morocco",))
SO_FAR = [
    Played("Prince Moulay Abdellah Stadium", "Morocco", "Comoros", 2, 0, 60180.0, 69500.0),
    Played("Stade Mohammed V", "Mali", "Zambia", 1, 1, 10124.0, 45000.0),
    Played("Tangier Grand Stadium", "Senegal", "Botswana", 3, 0, 18591.0, 75500.0),
]


def test_features_come_from_the_tournament_so_far():
    named = match_features(MATCH, SO_FAR, Known())
    assert list(named) == FEATURE_NAMES
    assert named["venue_fill"] == pytest.approx(10124 / 45000) and named["venue_matches"] == 1
    assert named["venue_fill_so_far"] == pytest.approx(10124 / 45000)
    assert named["team_fill_high"] == pytest.approx(60180 / 69500)            # Morocco
    assert named["team_fill_so_far"] == pytest.approx(60180 / 69500)
    assert named["team_crowd_high"] == 1.0                                    # 60,180 > 45,000 seats
    assert named["team_crowd_low"] == pytest.approx(18591 / 45000)            # Senegal's crowd, here
    assert named["host_team"] == 1.0 and named["host_crowd"] == 1.0
    assert named["points_so_far"] == 6.0 and named["stage_order"] == 4.0 and named["days_in"] == 28
    assert named["weekend"] == 1.0 and named["afcon"] == 1.0                  # 18 Jan 2026 is a Sunday


def test_features_are_symmetric_in_the_teams():
    swapped = Match(**{**MATCH.__dict__, "team_a": "Senegal", "team_b": "Morocco"})
    assert match_features(swapped, SO_FAR, Known()) == match_features(MATCH, SO_FAR, Known())


def test_without_history_the_features_fall_back_to_what_is_known():
    known = Known()
    known.add_day("afcon", [("Final", 0.9), ("Group Stage", 0.3)])
    named = match_features(MATCH, [], known)
    assert named["stage_fill"] == pytest.approx(0.9)
    assert named["venue_fill_so_far"] == named["team_fill_so_far"] == pytest.approx(0.9)
    assert named["venue_matches"] == 0 and named["host_crowd"] == named["team_crowd_high"]
    assert len(feature_vector(named)) == len(FEATURE_NAMES)


def test_known_round_trips_through_json():
    known = Known()
    known.add_day("world_cup", [("Final", 1.0)])
    known.add_tournament("world_cup", SO_FAR)
    again = Known.from_json(known.as_json())
    assert match_features(MATCH, SO_FAR, again) == match_features(MATCH, SO_FAR, known)
    assert again.team_points["Morocco"] == [3.0, 1]


def test_served_fill_blends_moves_by_the_stage_and_stays_in_range():
    assert served_fill(0.6, 0.2, "Group Stage", 0.5, {"Final": 0.5}) == pytest.approx(0.4)
    assert served_fill(0.6, 0.2, "Final", 0.5, {"Final": 0.5}) == pytest.approx(0.7)
    assert served_fill(1.7, 1.0, "Final", 1.0, {"Final": 0.5}) == 1.0
    assert served_fill(-0.3, 0.0, "Group Stage", 1.0, {}) == 0.0


def test_interval_is_clipped_to_capacity():
    point, lower, upper = interval(0.95, 0.2, 10000)
    assert (point, lower, upper) == pytest.approx((9500, 7500, 10000))
    point, lower, upper = interval(-0.1, 0.2, 10000)
    assert point == 0 and lower == 0 and upper == pytest.approx(1000)


def _reference_match_features(match, so_far, known):
    """match_features as first written (passes over the played list per call): the reference for SoFar."""
    from services.forecast.features import POINTS_PRIOR, PRIOR_WEIGHT, STAGE_ORDER, _mean, points
    import math

    prior = known.competition_mean(match.competition)
    fills = [p.fill for p in so_far]
    tournament_fill = (sum(fills) + PRIOR_WEIGHT * prior) / (len(fills) + PRIOR_WEIGHT)
    venue = [p.fill for p in so_far if p.stadium == match.stadium]

    def team(name):
        mine = [p for p in so_far if name in (p.team_a, p.team_b)]
        total, n = known.team_points.get(name, (0.0, 0))
        now = sum(points(p.goals_a, p.goals_b) if p.team_a == name else points(p.goals_b, p.goals_a) for p in mine)
        strength = (total + now + POINTS_PRIOR[0] * POINTS_PRIOR[1]) / (n + len(mine) + POINTS_PRIOR[1])
        return [p.fill for p in mine], [p.attendance for p in mine], now, strength

    fa, ca, pa, sa = team(match.team_a)
    fb, cb, pb, sb = team(match.team_b)
    fill_a, fill_b = _mean(fa, tournament_fill), _mean(fb, tournament_fill)
    crowd_a = min(_mean(ca, fill_a * match.capacity) / match.capacity, 1.0)
    crowd_b = min(_mean(cb, fill_b * match.capacity) / match.capacity, 1.0)
    stage_fill = known.stage_mean(match.competition, match.stage)
    seen = [f for f in (fa, fb) if f]
    return {
        "stage_order": STAGE_ORDER[match.stage], "kickoff_hour": float(match.hour),
        "host_team": 1.0 if match.host_match else 0.0, "days_in": float((match.day - match.start).days),
        "weekend": 1.0 if match.day.weekday() >= 5 else 0.0, "venue_fill": _mean(venue, tournament_fill),
        "venue_matches": float(len(venue)), "team_fill_high": max(fill_a, fill_b),
        "team_fill_low": min(fill_a, fill_b), "team_crowd_high": max(crowd_a, crowd_b),
        "team_crowd_low": min(crowd_a, crowd_b),
        "host_crowd": (crowd_a if match.team_a in match.hosts else crowd_b) if match.host_match else 0.0,
        "team_matches_low": float(min(len(fa), len(fb))), "points_so_far": pa + pb,
        "strength_high": max(sa, sb), "strength_low": min(sa, sb), "tournament_fill": tournament_fill,
        "log_capacity": math.log(match.capacity), "afcon": 1.0 if match.competition == "afcon" else 0.0,
        "stage_fill": stage_fill, "venue_fill_so_far": _mean(venue, stage_fill),
        "team_fill_so_far": max(_mean(f, 0.0) for f in seen) if seen else stage_fill,
    }


def test_indexed_tournament_gives_the_reference_features_over_the_whole_walk(monkeypatch):
    """SoFar (built once per day in training, once per load in serving) changes no feature of any match."""
    from services.forecast import dataset
    from services.forecast.features import SoFar

    class Kept(SoFar):
        def __init__(self, played):
            super().__init__(played)
            self.played = list(played)

    checked = []

    def both(match, so_far, known):
        got = match_features(match, so_far, known)
        assert got == _reference_match_features(match, so_far.played, known), match
        assert got == match_features(match, so_far.played, known)  # a plain list is indexed on the call
        checked.append(1)
        return got

    monkeypatch.setattr(dataset, "SoFar", Kept)
    monkeypatch.setattr(dataset, "match_features", both)
    frame = dataset.load_matches()
    dataset.walk(frame)
    assert len(checked) == len(frame) > 500


def test_a_played_match_needs_two_teams():
    from services.forecast.features import SoFar

    with pytest.raises(ValueError, match="two different teams"):
        SoFar([Played(stadium="S", team_a="X", team_b="X", goals_a=1, goals_b=0, attendance=10.0, capacity=20.0)])
