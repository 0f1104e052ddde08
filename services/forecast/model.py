"""Attendance inference: one ONNX model of the fill rate plus JSON lookup tables.

Loaded from a verified version folder; imports no training library and unpickles nothing.
"""
from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from services.common.errors import InputError
from services.common.onnx import OnnxModel

from .features import FEATURE_NAMES, TeamStats, feature_matrix, feature_row, interval, normalize


class UnknownInput(InputError):
    """A request the model cannot answer, with the field to blame (answered as a 400)."""


class ForecastModel:
    def __init__(self, directory: Path, manifest: dict[str, Any]):
        self.version = manifest["version"]
        tables = json.loads((directory / "tables.json").read_text())
        if tables["feature_names"] != FEATURE_NAMES:
            raise ValueError(f"artifact features {tables['feature_names']} differ from the code's {FEATURE_NAMES}")
        self.onnx = OnnxModel(directory / "model.onnx")
        self.model_name = tables["model"]
        self.interval_level = float(tables["interval_level"])
        self.half_width = float(tables["half_width_fill"])
        self.default_year = int(tables["default_year"])
        self.neutral = TeamStats(**tables["neutral_team"])
        self.teams = {name: TeamStats(**stats) for name, stats in tables["teams"].items()}
        self.team_aliases: dict[str, str] = tables["team_aliases"]
        self.stadiums: dict[str, dict[str, Any]] = tables["stadiums"]
        self.stadium_aliases: dict[str, str] = tables["stadium_aliases"]
        self.city_stadiums: dict[str, str] = tables["city_stadiums"]

    # ------------------------------------------------------------------
    def resolve_stadium(self, text: str) -> tuple[str, str | None]:
        key = normalize(text)
        if key in self.stadium_aliases:
            return self.stadium_aliases[key], None
        if key in self.city_stadiums:
            name = self.city_stadiums[key]
            return name, f"'{text}' is a city; using its largest known stadium, {name}"
        known = ", ".join(sorted(self.stadiums))
        raise UnknownInput("stadium", f"unknown stadium '{text}'; known stadiums (or their city, or a common "
                                      f"alias, see GET /api/forecast/stadiums): {known}")

    def resolve_team(self, text: str, warnings: list[str]) -> tuple[str, TeamStats]:
        name = self.team_aliases.get(normalize(text))
        if name is None:
            warnings.append(f"unknown team '{text}': given a neutral popularity and strength "
                            "(the average of the data); see GET /api/forecast/teams")
            return text.strip(), self.neutral
        return name, self.teams[name]

    def predict(self, *, team_a: str, team_b: str, stadium: str, hour: float, stage: str,
                day: date | None) -> dict[str, Any]:
        """`stage` is a canonical stage name and `hour` the kickoff hour (the request schema parses both)."""
        warnings: list[str] = []
        stadium_name, note = self.resolve_stadium(stadium)
        if note:
            warnings.append(note)
        entry = self.stadiums[stadium_name]
        stage_name = stage
        name_a, stats_a = self.resolve_team(team_a, warnings)
        name_b, stats_b = self.resolve_team(team_b, warnings)
        if normalize(name_a) == normalize(name_b):
            raise UnknownInput("team_b", "must differ from team_a")
        year = day.year if day else self.default_year
        hosts = set(entry["hosts"])
        row = feature_row(capacity=entry["capacity"], stage=stage_name, hour=hour,
                          host_match=name_a in hosts or name_b in hosts,
                          afcon=str(entry["last_tournament"]).startswith("AFCON"),
                          team_a=stats_a, team_b=stats_b, year=year)
        fill = float(self.onnx.run(feature_matrix([row])).ravel()[0])
        capacity = float(entry["capacity"])
        point, lower, upper = interval(fill, self.half_width, capacity)
        if entry["capacity_source"].startswith("proxy"):
            warnings.append(f"{stadium_name}: capacity is a proxy (largest crowd recorded there, "
                            f"{int(capacity):,})")
        return {
            "predicted_attendance": int(round(point)),
            "confidence_interval": [int(round(lower)), int(round(upper))],
            "stadium_capacity": int(round(capacity)),
            "fill_rate": round(point / capacity, 4),
            "interval_level": self.interval_level,
            "warnings": warnings,
            "stadium": stadium_name,
            "stage": stage_name,
            "kickoff_hour": round(hour, 3),
            "model": self.model_name,
        }


def load(directory: Path, manifest: dict[str, Any]) -> ForecastModel:
    return ForecastModel(directory, manifest)
