"""The one feature function, used by training and by serving (no train/serve skew).

Plain Python and numpy only: the request path builds one float32 row, no pandas.
Also holds the parsing both sides share: stage names, kickoff times, name normalisation.
"""
from __future__ import annotations

import re
import unicodedata
from typing import NamedTuple

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
    "third place playoff": "Third Place", "bronze final": "Third Place",
    "semi finals": "Semi-Finals", "semi final": "Semi-Finals", "semifinals": "Semi-Finals",
    "semifinal": "Semi-Finals", "sf": "Semi-Finals", "semi final s": "Semi-Finals", "semis": "Semi-Finals",
    "semi": "Semi-Finals", "semifinal s": "Semi-Finals",
    "final": "Final", "finals": "Final", "the final": "Final",
}
_GROUP_NAME = re.compile(r"^group [a-z0-9]$")

# "Afternoon" / "Evening" / "Night" stand for a typical kickoff hour of that part of the day.
TIME_WORDS: dict[str, float] = {"afternoon": 15.0, "evening": 18.0, "night": 21.0}
_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


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


class TeamStats(NamedTuple):
    """What the data says about a team before a match (shrunk towards the priors)."""

    draw: float       # its mean fill rate (attendance / capacity) in earlier matches
    strength: float   # its points per match in earlier matches (win 3, draw 1)
    matches: int      # how many earlier matches the two numbers rest on


FEATURES: list[tuple[str, str]] = [
    ("capacity", "float: stadium capacity (AFCON: venue list; World Cup: max attendance ever recorded there)"),
    ("stage_order", "float: 0 group, 1 round of 16, 2 quarter-final, 2.5 third place, 3 semi-final, 4 final"),
    ("kickoff_hour", "float: local kickoff hour (Afternoon=15, Evening=18, Night=21)"),
    ("host_match", "0/1: one of the teams is a host nation of the stadium's tournament"),
    ("afcon", "0/1: the stadium is an AFCON 2025 venue (continental championship), not a World Cup one"),
    ("draw_high", "float: the more popular team's past mean fill rate (earlier matches only, shrunk)"),
    ("draw_low", "float: the less popular team's past mean fill rate"),
    ("strength_high", "float: the stronger team's past points per match (shrunk)"),
    ("strength_low", "float: the weaker team's past points per match"),
    ("experience_low", "float: log1p of the earlier matches of the less experienced team"),
    ("year", "int: the match's year (request date, else the latest year in the data)"),
]
FEATURE_NAMES = [name for name, _ in FEATURES]


def feature_row(*, capacity: float, stage: str, hour: float, host_match: bool, afcon: bool,
                team_a: TeamStats, team_b: TeamStats, year: int) -> list[float]:
    """The model's inputs for one match; team order does not matter."""
    return [
        float(capacity),
        STAGE_ORDER[stage],
        float(hour),
        1.0 if host_match else 0.0,
        1.0 if afcon else 0.0,
        max(team_a.draw, team_b.draw),
        min(team_a.draw, team_b.draw),
        max(team_a.strength, team_b.strength),
        min(team_a.strength, team_b.strength),
        float(np.log1p(min(team_a.matches, team_b.matches))),
        float(year),
    ]


def feature_matrix(rows: list[list[float]]) -> np.ndarray:
    return np.asarray(rows, dtype=np.float32).reshape(-1, len(FEATURE_NAMES))


def interval(fill: float, half_width: float, capacity: float) -> tuple[float, float, float]:
    """Point and interval in attendance, all clipped to [0, capacity]."""
    point = min(max(fill, 0.0), 1.0)
    lower = min(max(fill - half_width, 0.0), 1.0)
    upper = min(max(fill + half_width, 0.0), 1.0)
    return point * capacity, lower * capacity, upper * capacity
