"""Attendance inference: per competition, one ONNX model of the fill rate (or a baseline) plus JSON state.

Loaded from a verified version folder; imports no training library and unpickles nothing.
A request describes a further match of the stadium's latest tournament: the artifact holds that
tournament's results so far, and features.match_features (the function training used) turns
them into the model's inputs.
"""
from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz, process

from services.common.errors import InputError
from services.common.onnx import OnnxModel

from .features import (FEATURE_NAMES, Known, Match, Played, SoFar, feature_vector, interval, interval_scale,
                       match_features, normalize, served_fill)

MATCH_SCORE = 88.0      # rapidfuzz WRatio (0..100) a name needs to be taken as a known stadium or team
SUGGESTIONS = 5
RESOLVED_CACHE = 4096   # distinct stadium names remembered per worker
MAX_DAYS_AHEAD = 45     # a date further from the tournament's last matchday is not a match of it


class UnknownInput(InputError):
    """A request the model cannot answer, with the field to blame (answered as a 400)."""


class ForecastModel:
    def __init__(self, directory: Path, manifest: dict[str, Any]):
        self.version = manifest["version"]
        tables = json.loads((directory / "tables.json").read_text())
        if tables["feature_names"] != FEATURE_NAMES:
            raise ValueError(f"artifact features {tables['feature_names']} differ from the code's {FEATURE_NAMES}")
        self.served: dict[str, dict[str, Any]] = tables["served"]
        self.onnx = {c: OnnxModel(directory / e["file"]) for c, e in self.served.items() if e["kind"] == "onnx"}
        for c, e in self.served.items():
            if e["kind"] == "onnx" and not set(e["inputs"]) <= set(FEATURE_NAMES):
                raise ValueError(f"{c}: the model's inputs {e['inputs']} are not all features of this code")
        self.inputs = {c: [FEATURE_NAMES.index(n) for n in e["inputs"]] for c, e in self.served.items()
                       if e["kind"] == "onnx"}
        self.interval_level = float(tables["interval_level"])
        self.stage_fill = tables["state"]["stage_fill"]
        self.tournaments: dict[str, dict[str, Any]] = tables["state"]["tournaments"]
        # What a request reads of its tournament, built once per load: its results so far (indexed), its
        # first and last match days, its hosts (building the Played list was most of a request's work).
        self._tournament = {name: (SoFar([Played(**p) for p in state["played"]]), date.fromisoformat(state["start"]),
                                   date.fromisoformat(state["last_day"]), tuple(state["hosts"]))
                            for name, state in self.tournaments.items()}
        self.stadiums: dict[str, dict[str, Any]] = tables["stadiums"]
        self.stadium_aliases: dict[str, str] = tables["stadium_aliases"]
        self.city_stadiums: dict[str, str] = tables["city_stadiums"]
        self.teams: list[str] = tables["teams"]
        self.team_summary: dict[str, dict[str, Any]] = tables["team_summary"]
        self.team_aliases: dict[str, str] = tables["team_aliases"]
        self._resolved: dict[str, tuple[str, str | None]] = {}
        # every match with its crowd (GET /matches); artifacts trained before it have none
        matches = tables.get("matches")
        self.matches: list[dict[str, Any]] | None = (
            [dict(zip(matches["columns"], row)) for row in matches["rows"]] if matches else None)
        # What a stadium name is matched against: names, aliases, cities, and "name city".
        self._stadium_keys: dict[str, str] = {}
        for name, entry in self.stadiums.items():
            self._stadium_keys.setdefault(f"{normalize(name)} {normalize(entry['city'])}", name)
        for key, name in (*self.stadium_aliases.items(), *self.city_stadiums.items()):
            self._stadium_keys.setdefault(key, name)
        for alias, name in self.stadium_aliases.items():
            self._stadium_keys.setdefault(f"{alias} {normalize(self.stadiums[name]['city'])}", name)

    # -- names ---------------------------------------------------------------------------------
    def _ranked(self, key: str, keys: dict[str, str]) -> list[tuple[str, float]]:
        """Distinct targets, best score first (ties broken by name, so answers are stable)."""
        best: dict[str, float] = {}
        for choice, score, _ in process.extract(key, list(keys), scorer=fuzz.WRatio, limit=50,
                                                processor=None):
            target = keys[choice]
            best[target] = max(best.get(target, 0.0), float(score))
        return sorted(best.items(), key=lambda ts: (-ts[1], ts[0]))

    def resolve_stadium(self, text: str) -> tuple[str, str | None]:
        """A known stadium for a name as a client sends it, and a note on how it was found; a client
        sends the same few names again and again, so the fuzzy answers (~1 ms each) are remembered."""
        if text in self._resolved:
            return self._resolved[text]
        answer = self._resolve_stadium(text)
        if len(self._resolved) < RESOLVED_CACHE:
            self._resolved[text] = answer
        return answer

    def _resolve_stadium(self, text: str) -> tuple[str, str | None]:
        key = normalize(text)
        if key in self.stadium_aliases:
            return self.stadium_aliases[key], None
        if key in self.city_stadiums:
            name = self.city_stadiums[key]
            return name, f"'{text}' is a city; using its largest known stadium, {name}"
        ranked = self._ranked(key, self._stadium_keys) if key else []
        if ranked and ranked[0][1] >= MATCH_SCORE and (len(ranked) == 1 or ranked[1][1] < ranked[0][1]):
            return ranked[0][0], f"'{text}' matched to {ranked[0][0]} (similarity {ranked[0][1]:.0f}/100)"
        suggestions = [name for name, _ in ranked[:SUGGESTIONS]]
        raise UnknownInput("stadium", f"unknown stadium '{text}'"
                           + (f"; did you mean: {'; '.join(suggestions)}?" if suggestions else "")
                           + " (all stadiums: GET /api/forecast/stadiums)")

    def resolve_team(self, text: str, warnings: list[str]) -> str:
        key = normalize(text)
        if key in self.team_aliases:
            return self.team_aliases[key]
        ranked = self._ranked(key, self.team_aliases) if key else []
        if ranked and ranked[0][1] >= MATCH_SCORE and (len(ranked) == 1 or ranked[1][1] < ranked[0][1]):
            warnings.append(f"team '{text}' matched to {ranked[0][0]} (similarity {ranked[0][1]:.0f}/100)")
            return ranked[0][0]
        warnings.append(f"unknown team '{text}': no results or crowds of it in the data, so it counts as an "
                        "average team (see GET /api/forecast/stadiums for the tournaments known)")
        return " ".join(text.split())

    # -- prediction ------------------------------------------------------------------------------
    def features(self, *, tournament: str, stadium: str, team_a: str, team_b: str, stage: str, hour: float,
                 day: date | None) -> tuple[list[float], dict[str, float], dict[str, Any]]:
        """The match's features: in FEATURE_NAMES order, by name, and what the answer needs of its tournament."""
        state = self.tournaments[tournament]
        entry = self.stadiums[stadium]
        played, start, last, hosts = self._tournament[tournament]
        day = day or last + timedelta(days=1)
        if not last < day <= last + timedelta(days=MAX_DAYS_AHEAD):
            raise UnknownInput("date", f"must be after {last.isoformat()}, the last matchday of {tournament} in the "
                                       f"data, and at most {MAX_DAYS_AHEAD} days later: the model forecasts further "
                                       "matches of that tournament from its results so far (or leave the date out)")
        known = Known(stage_fill=self.stage_fill, competition_fill=state["competition_fill"],
                      team_points=state["team_points"])
        match = Match(competition=state["competition"], stadium=stadium, capacity=float(entry["capacity"]),
                      team_a=team_a, team_b=team_b, stage=stage, hour=hour, day=day, start=start, hosts=hosts)
        named = match_features(match, played, known)
        return feature_vector(named), named, {"day": day, "state": state}

    def predict(self, *, team_a: str, team_b: str, stadium: str, hour: float, stage: str,
                day: date | None) -> dict[str, Any]:
        """`stage` is a canonical stage name and `hour` the kickoff hour (the request schema parses both)."""
        warnings: list[str] = []
        stadium_name, note = self.resolve_stadium(stadium)
        if note:
            warnings.append(note)
        entry = self.stadiums[stadium_name]
        stage_name = stage
        name_a = self.resolve_team(team_a, warnings)
        name_b = self.resolve_team(team_b, warnings)
        if normalize(name_a) == normalize(name_b):
            raise UnknownInput("team_b", "must differ from team_a")
        tournament = entry["last_tournament"]
        x, named, info = self.features(tournament=tournament, stadium=stadium_name, team_a=name_a, team_b=name_b,
                                       stage=stage_name, hour=hour, day=day)
        competition = info["state"]["competition"]
        served = self.served[competition]
        if served["kind"] == "onnx":
            raw = self.onnx[competition].run_row([x[i] for i in self.inputs[competition]])[0]
            host = bool(served.get("host_terms")) and named["host_team"] > 0
            fill = served_fill(raw, named[served["blend_column"]], stage_name, served["blend"], served["uplift"],
                               host, served.get("host_uplift", 0.0), named["host_crowd"])
        else:
            fill = named[served["column"]]
        fill = min(max(fill, 0.0), 1.0)
        bucket = "venue_seen" if named["venue_matches"] > 0 else "venue_new"
        capacity = float(entry["capacity"])
        half = float(served["half_width_fill"][bucket]) * float(
            interval_scale(fill, bool(served.get("interval_headroom_scale", False))))
        point, lower, upper = interval(fill, half, capacity)
        if competition == "world_cup":
            warnings.append(f"{stadium_name} was last used at the {tournament}: predicted as a further match of "
                            "that tournament, from its results")
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
            "model": served["model"],
            "competition": competition,
            "tournament": tournament,
            "match_day": info["day"].isoformat(),
        }


    def comparable(self, *, stadium: str, team_a: str | None, team_b: str | None, stage: str | None,
                   limit: int) -> dict[str, Any] | None:
        """Past matches with their real crowds that a forecast of this match can be read against: at the
        stadium, or of either team, or of the same stage of the stadium's latest tournament, all within
        the stadium's competition; newest first. None when the artifact carries no match table."""
        if self.matches is None:
            return None
        name, _ = self.resolve_stadium(stadium)
        entry = self.stadiums[name]
        tournament = entry["last_tournament"]
        competition = self.tournaments[tournament]["competition"]
        ignored: list[str] = []
        teams = {label: self.resolve_team(text, ignored) for label, text in (("team_a", team_a), ("team_b", team_b))
                 if text}
        out = []
        for m in self.matches:
            if m["competition"] != competition:
                continue
            why = []
            if m["stadium"] == name:
                why.append("stadium")
            why += [label for label, team in teams.items() if team in (m["team_a"], m["team_b"])]
            if stage and m["stage"] == stage and m["tournament"] == tournament:
                why.append("stage")
            if why:
                out.append({**{k: m[k] for k in ("tournament", "day", "stage", "stadium", "team_a", "team_b",
                                                  "goals_a", "goals_b", "attendance", "capacity")},
                            "fill_rate": round(m["attendance"] / m["capacity"], 4), "why": why})
        out.reverse()
        return {"stadium": name, "capacity": int(round(float(entry["capacity"]))), "competition": competition,
                "tournament": tournament, "teams": teams, "stage": stage, "total": len(out), "matches": out[:limit]}


def load(directory: Path, manifest: dict[str, Any]) -> ForecastModel:
    return ForecastModel(directory, manifest)
