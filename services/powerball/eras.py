"""Powerball number matrices (eras) and draws parsed against them.

The era table is data (data/powerball/eras.json, copied into every model version), not code:
a draw belongs to the era whose `rules_effective` date is the latest one on or before the
draw date, and each draw is checked against that era's ranges. Pure Python, so training and
serving parse and validate draws the same way.
"""
from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Iterable

WHITE_COUNT = 5
CSV_COLUMNS = ("Draw Date", "Winning Numbers", "Multiplier")


class DrawError(ValueError):
    """A draw that does not fit the rules of its era (or cannot be read)."""


@dataclass(frozen=True)
class Era:
    name: str
    rules_effective: date
    first_draw: date
    white_max: int
    powerball_max: int
    source: str = ""

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["rules_effective"] = self.rules_effective.isoformat()
        out["first_draw"] = self.first_draw.isoformat()
        return out


@dataclass(frozen=True)
class Draw:
    date: date
    white_balls: tuple[int, ...]
    powerball: int
    multiplier: int | None
    era: str

    def as_json(self) -> dict[str, Any]:
        return {"date": self.date.isoformat(), "white_balls": list(self.white_balls),
                "powerball": self.powerball, "multiplier": self.multiplier, "era": self.era}


def eras_from_json(payload: dict[str, Any] | list[dict[str, Any]]) -> list[Era]:
    """Build and check the era table: ordered, non-overlapping, sane ranges."""
    rows = payload["eras"] if isinstance(payload, dict) else payload
    eras = []
    for row in rows:
        era = Era(name=str(row["name"]), rules_effective=date.fromisoformat(row["rules_effective"]),
                  first_draw=date.fromisoformat(row["first_draw"]), white_max=int(row["white_max"]),
                  powerball_max=int(row["powerball_max"]), source=str(row.get("source", "")))
        if era.first_draw < era.rules_effective:
            raise ValueError(f"era {era.name}: first_draw before rules_effective")
        if era.white_max < WHITE_COUNT or era.powerball_max < 1:
            raise ValueError(f"era {era.name}: impossible ranges")
        eras.append(era)
    if not eras:
        raise ValueError("the era table is empty")
    for before, after in zip(eras, eras[1:]):
        if after.rules_effective <= before.rules_effective:
            raise ValueError(f"eras must be in date order: {after.name} starts before {before.name}")
    if len({e.name for e in eras}) != len(eras):
        raise ValueError("era names must be unique")
    return eras


def load_eras(path: Path) -> list[Era]:
    return eras_from_json(json.loads(Path(path).read_text()))


def era_for(day: date, eras: list[Era]) -> Era:
    """The era whose rules apply on `day`."""
    current = None
    for era in eras:
        if era.rules_effective <= day:
            current = era
    if current is None:
        raise DrawError(f"{day.isoformat()}: before the first known era ({eras[0].rules_effective.isoformat()})")
    return current


def make_draw(day: date, white: Iterable[int], powerball: int, multiplier: int | None, eras: list[Era]) -> Draw:
    """Check one draw against its era's rules; white balls are a set, so they are sorted."""
    era = era_for(day, eras)
    white = tuple(sorted(int(n) for n in white))
    if len(white) != WHITE_COUNT or len(set(white)) != WHITE_COUNT:
        raise DrawError(f"{day}: need {WHITE_COUNT} distinct white balls, got {list(white)}")
    if white[0] < 1 or white[-1] > era.white_max:
        raise DrawError(f"{day}: white balls {list(white)} outside 1-{era.white_max} of era {era.name}")
    if not 1 <= int(powerball) <= era.powerball_max:
        raise DrawError(f"{day}: Powerball {powerball} outside 1-{era.powerball_max} of era {era.name}")
    return Draw(day, white, int(powerball), multiplier, era.name)


def parse_csv(path: Path, eras: list[Era]) -> list[Draw]:
    """The NY open-data export, oldest draw first; every row checked against its era."""
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        missing = set(CSV_COLUMNS) - set(reader.fieldnames or [])
        if missing:
            raise DrawError(f"{path}: missing columns {sorted(missing)}")
        draws = []
        for line, row in enumerate(reader, start=2):
            try:
                day = datetime.strptime(row["Draw Date"].strip(), "%m/%d/%Y").date()
                numbers = [int(n) for n in row["Winning Numbers"].split()]
                multiplier = int(row["Multiplier"]) if row["Multiplier"].strip() else None
            except ValueError as exc:
                raise DrawError(f"{path.name}:{line}: {exc}") from None
            if len(numbers) != WHITE_COUNT + 1:
                raise DrawError(f"{path.name}:{line}: expected 6 numbers, got {row['Winning Numbers']!r}")
            try:
                draws.append(make_draw(day, numbers[:WHITE_COUNT], numbers[WHITE_COUNT], multiplier, eras))
            except DrawError as exc:
                raise DrawError(f"{path.name}:{line}: {exc}") from None
    return sort_draws(draws)


def draws_from_json(rows: list[dict[str, Any]], eras: list[Era]) -> list[Draw]:
    """Draws shipped in a model version, re-checked against the shipped era table."""
    draws = []
    for row in rows:
        draw = make_draw(date.fromisoformat(row["date"]), row["white_balls"], row["powerball"],
                         row.get("multiplier"), eras)
        if draw.era != row.get("era", draw.era):
            raise DrawError(f"{row['date']}: labelled era {row['era']!r}, rules say {draw.era!r}")
        draws.append(draw)
    return sort_draws(draws)


def sort_draws(draws: list[Draw]) -> list[Draw]:
    draws = sorted(draws, key=lambda d: d.date)
    for before, after in zip(draws, draws[1:]):
        if before.date == after.date:
            raise DrawError(f"{after.date}: two draws on one date")
    return draws


def era_draws(draws: list[Draw], era: Era) -> list[Draw]:
    return [d for d in draws if d.era == era.name]
