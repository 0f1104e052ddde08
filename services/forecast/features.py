"""The one feature function, used by training and by serving (no train/serve skew).

`match_features(match, so_far, known)` describes a match from what is known before its kickoff day:
`so_far`, the matches of the same tournament played on earlier days (with their attendances), and
`known`, what earlier days of every tournament say (`Known`: per-stage mean fill, team results,
the competition's mean fill). Training walks the matches day by day and calls it for every match;
serving calls it with the tournament's results kept in the artifact. No attendance of the match
being described, or of any match on its day, can reach its features.

Plain Python only: the request path builds one float32 row, no pandas.
Also holds the parsing both sides share: stage names, kickoff times, name normalisation.
"""
from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any, Sequence

import numpy as np

# Tournament stages in the order of importance (knockout rounds above the groups).
STAGE_ORDER: dict[str, float] = {
    "Group Stage": 0.0,
    "Round of 16": 1.0,
    "Quarter-Finals": 2.0,
    "Third Place": 2.5,
    "Semi-Finals": 3.0,
    "Final": 4.0,
}

_STAGE_ALIASES: dict[str, str] = {
    "group stage": "Group Stage", "group": "Group Stage", "groups": "Group Stage",
    "group phase": "Group Stage", "group round": "Group Stage", "grp": "Group Stage",
    "round of 16": "Round of 16", "r16": "Round of 16", "last 16": "Round of 16",
    "eighth finals": "Round of 16", "eighth final": "Round of 16", "1 8 final": "Round of 16",
    "1 8 finals": "Round of 16", "round of sixteen": "Round of 16",
    "quarter finals": "Quarter-Finals", "quarter final": "Quarter-Finals", "quarterfinals": "Quarter-Finals",
    "quarterfinal": "Quarter-Finals", "qf": "Quarter-Finals", "last 8": "Quarter-Finals",
    "third place": "Third Place", "3rd place": "Third Place", "match for third place": "Third Place",
    "play off for third place": "Third Place", "third place play off": "Third Place",
    "third place playoff": "Third Place", "bronze final": "Third Place", "third place match": "Third Place",
    "3rd place match": "Third Place", "3rd place play off": "Third Place", "3rd place playoff": "Third Place",
    "third place final": "Third Place",
    "semi finals": "Semi-Finals", "semi final": "Semi-Finals", "semifinals": "Semi-Finals",
    "semifinal": "Semi-Finals", "sf": "Semi-Finals", "semi final s": "Semi-Finals", "semis": "Semi-Finals",
    "semi": "Semi-Finals", "semifinal s": "Semi-Finals",
    "final": "Final", "finals": "Final", "the final": "Final",
}
_GROUP_NAME = re.compile(r"^group [a-z0-9]$")

# "Afternoon" / "Evening" / "Night" stand for a typical kickoff hour of that part of the day.
TIME_WORDS: dict[str, float] = {"afternoon": 15.0, "evening": 18.0, "night": 21.0}
_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


@lru_cache(maxsize=4096)  # clients send the same few names again and again (~3 us each time otherwise)
def normalize(text: str) -> str:
    """Case, accents and punctuation folded away: 'Stade Vélodrome' -> 'stade velodrome'."""
    folded = unicodedata.normalize("NFKD", text)
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch)).lower()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", folded).split())


def canonical_stage(text: str) -> str | None:
    """The data's stage name for a stage as people write it, or None."""
    key = normalize(text)
    if key in _STAGE_ALIASES:
        return _STAGE_ALIASES[key]
    if _GROUP_NAME.match(key):
        return "Group Stage"
    return None


def accepted_stages() -> list[str]:
    return list(STAGE_ORDER)


def kickoff_hour(text: str) -> float | None:
    """Hours after midnight (local time) for 'HH:MM', 'Afternoon', 'Evening' or 'Night'; else None."""
    cleaned = text.strip()
    word = TIME_WORDS.get(cleaned.lower())
    if word is not None:
        return word
    match = _HHMM.match(cleaned)
    if match is None:
        return None
    return int(match.group(1)) + int(match.group(2)) / 60.0


COMPETITIONS = ("afcon", "world_cup")
PRIOR_WEIGHT = 2.0      # pseudo-matches at the competition's mean when a tournament is young
POINTS_PRIOR = (1.35, 3.0)  # (points per match, pseudo-matches): a team with no results is average

# name, meaning (the manifest lists these)
FEATURES: list[tuple[str, str]] = [
    ("stage_order", "0 group, 1 round of 16, 2 quarter-final, 2.5 third place, 3 semi-final, 4 final"),
    ("kickoff_hour", "local kickoff hour (Afternoon=15, Evening=18, Night=21)"),
    ("host_team", "1 when a team is a host nation of the tournament"),
    ("days_in", "days since the tournament's first match"),
    ("weekend", "1 on a Saturday or Sunday"),
    ("venue_fill", "the venue's mean fill in this tournament so far (tournament mean if none yet)"),
    ("venue_matches", "the venue's matches in this tournament so far"),
    ("team_fill_high", "the higher of the two teams' mean fill in this tournament so far"),
    ("team_fill_low", "the lower of the two teams' mean fill in this tournament so far"),
    ("team_crowd_high", "the larger of the two teams' mean crowd so far, as a share of this capacity (<= 1)"),
    ("team_crowd_low", "the smaller of the two teams' mean crowd so far, as a share of this capacity"),
    ("host_crowd", "the host team's mean crowd so far as a share of this capacity (<= 1) when a host plays, else 0"),
    ("team_matches_low", "matches so far of the team that has played fewer"),
    ("points_so_far", "both teams' points in this tournament so far"),
    ("strength_high", "the stronger team's points per match in all earlier results (shrunk)"),
    ("strength_low", "the weaker team's points per match in all earlier results (shrunk)"),
    ("tournament_fill", "this tournament's mean fill so far, shrunk to the competition's earlier mean"),
    ("log_capacity", "natural log of the stadium capacity"),
    ("afcon", "1 for the Africa Cup of Nations, 0 for the World Cup"),
    ("stage_fill", "baseline input: mean fill of this stage in earlier matches of the competition"),
    ("venue_fill_so_far", "baseline input: the venue's mean fill so far (stage_fill if none yet)"),
    ("team_fill_so_far", "baseline input: the higher of the teams' mean fill so far (stage_fill if none)"),
]
FEATURE_NAMES = [name for name, _ in FEATURES]


@dataclass(frozen=True)
class Match:
    """A match to describe: everything here is known before kickoff."""

    competition: str
    stadium: str
    capacity: float
    team_a: str
    team_b: str
    stage: str
    hour: float
    day: date
    start: date            # the tournament's first match day
    hosts: tuple[str, ...]  # the tournament's host nations

    @property
    def host_match(self) -> bool:
        return self.team_a in self.hosts or self.team_b in self.hosts


@dataclass(frozen=True)
class Played:
    """An earlier match of the same tournament, with its result and crowd."""

    stadium: str
    team_a: str
    team_b: str
    goals_a: int
    goals_b: int
    attendance: float
    capacity: float

    @property
    def fill(self) -> float:
        return min(self.attendance / self.capacity, 1.0)


def points(goals_for: int, goals_against: int) -> float:
    return 3.0 if goals_for > goals_against else 1.0 if goals_for == goals_against else 0.0


@dataclass
class Known:
    """What earlier days say, kept as running totals (training updates it day by day; the
    artifact stores its final state for serving)."""

    stage_fill: dict[str, list[float]] = field(default_factory=dict)    # "comp|stage" or "*|stage" -> [sum, n]
    competition_fill: dict[str, list[float]] = field(default_factory=dict)  # comp -> [sum, n] (finished tournaments)
    team_points: dict[str, list[float]] = field(default_factory=dict)   # team -> [points, matches] (finished tournaments)

    def competition_mean(self, competition: str) -> float:
        total, n = self.competition_fill.get(competition, (0.0, 0))
        if n:
            return total / n
        totals = [v for v in self.competition_fill.values() if v[1]]
        return sum(v[0] for v in totals) / sum(v[1] for v in totals) if totals else 0.8

    def stage_mean(self, competition: str, stage: str) -> float:
        for key in (f"{competition}|{stage}", f"*|{stage}"):
            total, n = self.stage_fill.get(key, (0.0, 0))
            if n:
                return total / n
        return self.competition_mean(competition)

    def add_day(self, competition: str, day_matches: Sequence[tuple[str, float]]) -> None:
        """(stage, fill) of a finished day: the stage means learn it."""
        for stage, fill in day_matches:
            for key in (f"{competition}|{stage}", f"*|{stage}"):
                entry = self.stage_fill.setdefault(key, [0.0, 0])
                entry[0] += fill
                entry[1] += 1

    def add_tournament(self, competition: str, played: Sequence[Played]) -> None:
        """A finished tournament: the competition mean and the teams' records learn it."""
        entry = self.competition_fill.setdefault(competition, [0.0, 0])
        for p in played:
            entry[0] += p.fill
            entry[1] += 1
            for team, gf, ga in ((p.team_a, p.goals_a, p.goals_b), (p.team_b, p.goals_b, p.goals_a)):
                record = self.team_points.setdefault(team, [0.0, 0])
                record[0] += points(gf, ga)
                record[1] += 1

    def as_json(self) -> dict[str, Any]:
        return {"stage_fill": self.stage_fill, "competition_fill": self.competition_fill,
                "team_points": self.team_points}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Known":
        return cls(**{k: {name: list(v) for name, v in data[k].items()} for k in
                      ("stage_fill", "competition_fill", "team_points")})


def _mean(values: list[float], default: float) -> float:
    return sum(values) / len(values) if values else default


class SoFar:
    """A tournament's matches so far, indexed the way match_features reads them: the fills in order,
    each venue's fills, each team's fills, crowds and points. Built once per day of the walk in training
    and once per tournament at load in serving (a request's work was mostly these passes over the
    tournament's matches); match_features indexes a plain sequence itself."""

    __slots__ = ("fills", "total_fill", "venues", "teams")

    def __init__(self, played: Sequence[Played]):
        for p in played:
            if p.team_a == p.team_b:
                raise ValueError("a played match needs two different teams")
        self.fills = [p.fill for p in played]
        self.total_fill = sum(self.fills)
        self.venues: dict[str, list[float]] = {}
        by_team: dict[str, list[Played]] = {}
        for p, fill in zip(played, self.fills):
            self.venues.setdefault(p.stadium, []).append(fill)
            by_team.setdefault(p.team_a, []).append(p)
            by_team.setdefault(p.team_b, []).append(p)
        # per team, in the order played: fills, crowds, points in this tournament
        self.teams: dict[str, tuple[list[float], list[float], float]] = {
            name: ([p.fill for p in mine], [p.attendance for p in mine],
                   sum(points(p.goals_a, p.goals_b) if p.team_a == name else points(p.goals_b, p.goals_a)
                       for p in mine))
            for name, mine in by_team.items()}


_NO_MATCHES: tuple[list[float], list[float], float] = ([], [], 0)


def match_features(match: Match, so_far: Sequence[Played] | SoFar, known: Known) -> dict[str, float]:
    """The model's inputs for one match, from what is known before its day (see the module docstring).
    `so_far` is the tournament's earlier matches, or their SoFar index."""
    index = so_far if isinstance(so_far, SoFar) else SoFar(so_far)
    prior = known.competition_mean(match.competition)
    tournament_fill = (index.total_fill + PRIOR_WEIGHT * prior) / (len(index.fills) + PRIOR_WEIGHT)
    venue = index.venues.get(match.stadium, [])

    def team(name: str) -> tuple[list[float], list[float], float, float]:
        fills, crowds, now = index.teams.get(name, _NO_MATCHES)
        total, n = known.team_points.get(name, (0.0, 0))
        strength = (total + now + POINTS_PRIOR[0] * POINTS_PRIOR[1]) / (n + len(fills) + POINTS_PRIOR[1])
        return fills, crowds, now, strength

    fa, ca, pa, sa = team(match.team_a)
    fb, cb, pb, sb = team(match.team_b)
    fill_a, fill_b = _mean(fa, tournament_fill), _mean(fb, tournament_fill)
    crowd_a = min(_mean(ca, fill_a * match.capacity) / match.capacity, 1.0)
    crowd_b = min(_mean(cb, fill_b * match.capacity) / match.capacity, 1.0)
    stage_fill = known.stage_mean(match.competition, match.stage)
    seen = [f for f in (fa, fb) if f]
    return {
        "stage_order": STAGE_ORDER[match.stage],
        "kickoff_hour": float(match.hour),
        "host_team": 1.0 if match.host_match else 0.0,
        "days_in": float((match.day - match.start).days),
        "weekend": 1.0 if match.day.weekday() >= 5 else 0.0,
        "venue_fill": _mean(venue, tournament_fill),
        "venue_matches": float(len(venue)),
        "team_fill_high": max(fill_a, fill_b),
        "team_fill_low": min(fill_a, fill_b),
        "team_crowd_high": max(crowd_a, crowd_b),
        "team_crowd_low": min(crowd_a, crowd_b),
        "host_crowd": (crowd_a if match.team_a in match.hosts else crowd_b) if match.host_match else 0.0,
        "team_matches_low": float(min(len(fa), len(fb))),
        "points_so_far": pa + pb,
        "strength_high": max(sa, sb),
        "strength_low": min(sa, sb),
        "tournament_fill": tournament_fill,
        "log_capacity": math.log(match.capacity),
        "afcon": 1.0 if match.competition == "afcon" else 0.0,
        "stage_fill": stage_fill,
        "venue_fill_so_far": _mean(venue, stage_fill),
        "team_fill_so_far": max(_mean(f, 0.0) for f in seen) if seen else stage_fill,
    }


def feature_vector(features: dict[str, float]) -> list[float]:
    return [float(features[name]) for name in FEATURE_NAMES]


def served_fill(raw: float, venue: float, stage: str, blend: float, uplift: dict[str, float],
                host: bool = False, host_uplift: float = 0.0, host_crowd: float = 0.0) -> float:
    """What a candidate serves from its regressor's output: `blend` x the regressor + (1 - blend) x
    the venue's fill so far, then a knockout stage closes its share `uplift[stage]` of the seats
    still empty (learned from earlier knockout matches against their venue's fill so far). With the
    host terms on and a host nation playing (`host`), the anchor is the larger of the venue's fill and
    the host's crowd so far (a host fills a ground its group matches never saw), and a knockout closes
    `host_uplift` of what is still empty; in [0, 1]. Training's predictions and serving both go
    through this function."""
    anchor = max(venue, min(host_crowd, 1.0)) if host else venue
    fill = min(max(blend * raw + (1.0 - blend) * anchor, 0.0), 1.0)
    fill += uplift.get(stage, 0.0) * (1.0 - fill)
    if host and stage != "Group Stage":
        fill += host_uplift * (1.0 - fill)
    return fill


HEADROOM_FLOOR = 0.05   # a predicted full house keeps a half-width of at least 5% of its quantile


def interval_scale(fill, headroom: bool):
    """What a conformal quantile is multiplied by: 1, or the seats the prediction leaves empty (a
    match predicted near full misses by less than one predicted half empty), floored at
    HEADROOM_FLOOR. Training's rolling intervals and serving both go through this function."""
    fill = np.clip(np.asarray(fill, dtype=float), 0.0, 1.0)
    return np.maximum(HEADROOM_FLOOR, 1.0 - fill) if headroom else np.ones_like(fill)


def interval(fill: float, half_width: float, capacity: float) -> tuple[float, float, float]:
    """Point and interval in attendance, all clipped to [0, capacity]."""
    point = min(max(fill, 0.0), 1.0)
    lower = min(max(fill - half_width, 0.0), 1.0)
    upper = min(max(fill + half_width, 0.0), 1.0)
    return point * capacity, lower * capacity, upper * capacity
