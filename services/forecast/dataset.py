"""Loading and cleaning the attendance data, and the day-by-day walk that computes features (training only).

Serving never imports this module (it uses pandas). See data/attendance/SOURCE.md.

One frame, one row per match, ordered by kickoff:
tournament, competition, year, kickoff (Timestamp, local), day, hour, stage (canonical), stadium, city,
capacity, capacity_source, hosts (tuple of host nations), team_a, team_b, goals_a, goals_b,
attendance, fill (attendance / capacity, not clipped: a few old crowds exceed the recorded capacity).
Capacities come from files fixed before any split (world_cup_capacities.csv, afcon2025_venues.csv),
never from the attendances.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .features import FEATURE_NAMES, Known, Match, Played, SoFar, canonical_stage, match_features, normalize

DATA_DIR = Path(__file__).resolve().parents[2] / "data" / "attendance"
WORLD_CUP = "WorldCupMatches_1930-2014.csv"
WORLD_CUP_CAPACITIES = "world_cup_capacities.csv"
AFCON = "afcon2025_matches.csv"
AFCON_VENUES = "afcon2025_venues.csv"
DATA_FILES = (WORLD_CUP, WORLD_CUP_CAPACITIES, AFCON, AFCON_VENUES)

WORLD_CUP_HOSTS: dict[int, tuple[str, ...]] = {
    1930: ("Uruguay",), 1934: ("Italy",), 1938: ("France",), 1950: ("Brazil",), 1954: ("Switzerland",),
    1958: ("Sweden",), 1962: ("Chile",), 1966: ("England",), 1970: ("Mexico",), 1974: ("Germany",),
    1978: ("Argentina",), 1982: ("Spain",), 1986: ("Mexico",), 1990: ("Italy",), 1994: ("USA",),
    1998: ("France",), 2002: ("Korea Republic", "Japan"), 2006: ("Germany",), 2010: ("South Africa",),
    2014: ("Brazil",),
}
AFCON_HOSTS = ("Morocco",)

# The World Cup file's broken characters (SOURCE.md), repaired by hand.
_STADIUM_FIXES = {
    "Maracan\ufffd - Est\ufffddio Jornalista M\ufffdrio Filho": "Estadio do Maracana",
    "Estadio Jos\ufffd Mar\ufffda Minella": "Estadio Jose Maria Minella",
    "Estadio Municipal de Bala\ufffddos": "Estadio Municipal de Balaidos",
    "Estadio Ol\ufffdmpico Chateau Carreras": "Estadio Olimpico Chateau Carreras",
    "Estadio Ol\ufffdmpico Universitario": "Estadio Olimpico Universitario",
    "Nou Camp - Estadio Le\ufffdn": "Nou Camp - Estadio Leon",
    "Stade V\ufffdlodrome": "Stade Velodrome",
}
_CITY_FIXES = {"D\ufffdSseldorf": "Dusseldorf", "La Coru\ufffdA": "La Coruna", "Malm\ufffd": "Malmo",
               "Norrk\ufffdPing": "Norrkoping"}
# One name per team across both files and across eras of the same federation.
TEAM_ALIASES = {
    "c\ufffdte d'ivoire": "Ivory Coast", "cote d ivoire": "Ivory Coast", "cote divoire": "Ivory Coast",
    "germany fr": "Germany", "west germany": "Germany", "ir iran": "Iran", "united states": "USA",
    "usa": "USA", "us": "USA", "south korea": "Korea Republic", "korea": "Korea Republic",
    "north korea": "Korea DPR", "china": "China PR", "holland": "Netherlands", "congo dr": "DR Congo",
    "democratic republic of the congo": "DR Congo", "drc": "DR Congo", "ireland": "Republic of Ireland",
    "east germany": "German DR", "ussr": "Soviet Union", "czechia": "Czech Republic",
    "turkiye": "Turkey", "uae": "United Arab Emirates",
}
# Common names of the AFCON 2025 venues (and a few World Cup ones) -> the data's names.
STADIUM_ALIASES = {
    "Grand Stade de Marrakech": "Marrakesh Stadium", "Stade de Marrakech": "Marrakesh Stadium",
    "Marrakech Stadium": "Marrakesh Stadium", "Grand Stade Marrakech": "Marrakesh Stadium",
    "Complexe Sportif Prince Moulay Abdellah": "Prince Moulay Abdellah Stadium",
    "Stade Prince Moulay Abdellah": "Prince Moulay Abdellah Stadium",
    "Prince Moulay Abdellah": "Prince Moulay Abdellah Stadium",
    "Complexe Sportif Moulay Abdellah": "Prince Moulay Abdellah Stadium",
    "Stade Moulay Abdellah": "Prince Moulay Abdellah Stadium",
    "Complexe Mohammed V": "Stade Mohammed V", "Mohammed V Stadium": "Stade Mohammed V",
    "Stade Mohamed V": "Stade Mohammed V",
    "Grand Stade d'Agadir": "Adrar Stadium", "Stade Adrar": "Adrar Stadium", "Agadir Stadium": "Adrar Stadium",
    "Grand Stade de Fes": "Fez Stadium", "Complexe Sportif de Fes": "Fez Stadium", "Stade de Fes": "Fez Stadium",
    "Fes Stadium": "Fez Stadium",
    "Grand Stade de Tanger": "Tangier Grand Stadium", "Stade Ibn Batouta": "Tangier Grand Stadium",
    "Ibn Batouta Stadium": "Tangier Grand Stadium", "Grand Stade Ibn Batouta": "Tangier Grand Stadium",
    "Stade Moulay Hassan": "Moulay Hassan Stadium", "Stade Olympique de Rabat": "Rabat Olympic Stadium",
    "Stade Olympique Annexe": "Rabat Olympic Stadium", "Stade Al Medina": "Al Medina Stadium",
    "Maracana": "Estadio do Maracana", "Estadio Maracana": "Estadio do Maracana",
    "Azteca": "Estadio Azteca", "Wembley": "Wembley Stadium", "Old Trafford": "Old Trafford Stadium",
}
CITY_ALIASES = {"marrakech": "marrakesh", "fes": "fez", "tanger": "tangier", "casa": "casablanca"}


def canonical_team(name: str) -> str:
    name = name.strip().removeprefix('rn">').strip()
    return TEAM_ALIASES.get(normalize(name), TEAM_ALIASES.get(name.lower(), name))


def _clean_stadium(name: str) -> str:
    name = " ".join(name.split())
    name = _STADIUM_FIXES.get(name, name)
    if "\ufffd" in name:
        raise ValueError(f"stadium {name!r} has a broken character; add it to _STADIUM_FIXES")
    return name


def load_world_cup(path: Path, capacities_path: Path | None = None) -> pd.DataFrame:
    raw = pd.read_csv(path, encoding="utf-8")
    raw = raw.drop_duplicates(subset="MatchID")          # SOURCE.md: 16 duplicated 2014 rows
    raw = raw.dropna(subset=["Attendance"])               # SOURCE.md: Germany v Algeria 2014
    # "13 Jul 1930 - 15:00", a few spelled out ("17 June 1970 - 16:00"): keep 3 letters of the month.
    text = raw["Datetime"].str.strip().str.replace(r"^(\d+ [A-Za-z]{3})[A-Za-z]*", r"\1", regex=True)
    kickoff = pd.to_datetime(text, format="%d %b %Y - %H:%M")
    stage_text = raw["Stage"].str.strip()
    # 1934's preliminary round and 1938's first round were 16-team knockout rounds.
    stage_text = stage_text.replace({"Preliminary round": "Round of 16", "First round": "Round of 16"})
    stages = stage_text.map(canonical_stage)
    if stages.isna().any():
        raise ValueError(f"unmapped stages: {sorted(stage_text[stages.isna()].unique())}")
    stadium = raw["Stadium"].map(_clean_stadium)
    city = raw["City"].str.strip().map(lambda c: _CITY_FIXES.get(c, c))
    if city.str.contains("\ufffd").any():
        raise ValueError(f"cities with a broken character: {sorted(set(city[city.str.contains(chr(0xfffd))]))}")
    # The same stadium name in two cities (Olympiastadion, Estadio Nacional, ...) are two stadiums.
    cities_per_name = pd.Series(city.values, index=stadium.values).groupby(level=0).nunique()
    stadium = pd.Series([s if cities_per_name[s] == 1 else f"{s}, {c}" for s, c in zip(stadium, city)],
                        index=raw.index)
    frame = pd.DataFrame({
        "tournament": "FIFA World Cup " + raw["Year"].astype(str),
        "year": raw["Year"].astype(int),
        "kickoff": kickoff,
        "stage": stages,
        "stadium": stadium,
        "city": city,
        "team_a": raw["Home Team Name"].map(canonical_team),
        "team_b": raw["Away Team Name"].map(canonical_team),
        "goals_a": raw["Home Team Goals"].astype(int),
        "goals_b": raw["Away Team Goals"].astype(int),
        "attendance": raw["Attendance"].astype(float),
        "order": raw["MatchID"].astype(int),
    })
    frame["hosts"] = frame["year"].map(WORLD_CUP_HOSTS)
    if frame["hosts"].isna().any():
        raise ValueError("a World Cup year has no host in WORLD_CUP_HOSTS")
    capacities = pd.read_csv(capacities_path or path.with_name(WORLD_CUP_CAPACITIES))
    frame = frame.merge(capacities[["stadium", "year", "capacity", "source", "source_ref"]],
                        on=["stadium", "year"], how="left", validate="many_to_one")
    if frame["capacity"].isna().any():
        missing = frame.loc[frame["capacity"].isna(), ["stadium", "year"]].drop_duplicates()
        raise ValueError(f"stadiums without a capacity in {WORLD_CUP_CAPACITIES}: {missing.values.tolist()}")
    frame["capacity"] = frame["capacity"].astype(float)
    frame["capacity_source"] = frame["source"] + ": " + frame["source_ref"]
    return frame.drop(columns=["source", "source_ref"])


def load_afcon(path: Path, venues_path: Path) -> pd.DataFrame:
    raw = pd.read_csv(path).drop_duplicates(subset="fixture_id")
    venues = pd.read_csv(venues_path).set_index("venue_name")
    unknown = set(raw["venue_name"]) - set(venues.index)
    if unknown:
        raise ValueError(f"AFCON venues missing from the venue list: {sorted(unknown)}")
    raw = raw.dropna(subset=["attendance"])
    stages = raw["stage"].map(canonical_stage)
    if stages.isna().any():
        raise ValueError(f"unmapped AFCON stages: {sorted(raw['stage'][stages.isna()].unique())}")
    frame = pd.DataFrame({
        "tournament": "AFCON 2025",
        "year": 2025,
        "kickoff": pd.to_datetime(raw["match_date"] + " " + raw["kickoff_time"], format="%Y-%m-%d %H:%M"),
        "stage": stages,
        "stadium": raw["venue_name"].str.strip(),
        "city": raw["city"].str.strip(),
        "team_a": raw["home_team"].map(canonical_team),
        "team_b": raw["away_team"].map(canonical_team),
        "goals_a": raw["home_goals"].astype(int),
        "goals_b": raw["away_goals"].astype(int),
        "attendance": raw["attendance"].astype(float),
        "order": raw["fixture_id"].astype(int),
        "capacity": raw["venue_name"].map(venues["capacity"]).astype(float),
        "capacity_source": "AFCON 2025 venue list (afcon2025_venues.csv)",
    })
    frame["hosts"] = [AFCON_HOSTS] * len(frame)
    return frame


def load_matches(data_dir: Path = DATA_DIR, limit: int | None = None) -> pd.DataFrame:
    """Every match, cleaned, oldest first. `limit` keeps the first matches of each file (tests)."""
    world_cup = load_world_cup(data_dir / WORLD_CUP, data_dir / WORLD_CUP_CAPACITIES)
    afcon = load_afcon(data_dir / AFCON, data_dir / AFCON_VENUES)
    if limit:
        world_cup = world_cup.sort_values(["kickoff", "order"]).head(limit)
        afcon = afcon.sort_values(["kickoff", "order"]).head(limit)
    frame = pd.concat([world_cup, afcon], ignore_index=True)
    frame = frame.sort_values(["kickoff", "order"]).reset_index(drop=True)
    frame["competition"] = np.where(frame["tournament"].str.startswith("AFCON"), "afcon", "world_cup")
    frame["day"] = frame["kickoff"].dt.normalize()
    frame["hour"] = frame["kickoff"].dt.hour + frame["kickoff"].dt.minute / 60.0
    frame["fill"] = frame["attendance"] / frame["capacity"]
    frame["host_match"] = [a in hosts or b in hosts for a, b, hosts in
                           zip(frame["team_a"], frame["team_b"], frame["hosts"])]
    if (frame["attendance"] <= 0).any() or (frame["capacity"] <= 0).any():
        raise ValueError("non-positive attendance or capacity")
    return frame


# --- the day-by-day walk --------------------------------------------------------------------
def as_match(r, start) -> Match:
    return Match(competition=r.competition, stadium=r.stadium, capacity=float(r.capacity), team_a=r.team_a,
                 team_b=r.team_b, stage=r.stage, hour=float(r.hour), day=r.day.date(), start=start.date(),
                 hosts=tuple(r.hosts))


def as_played(r) -> Played:
    return Played(stadium=r.stadium, team_a=r.team_a, team_b=r.team_b, goals_a=int(r.goals_a),
                  goals_b=int(r.goals_b), attendance=float(r.attendance), capacity=float(r.capacity))


def walk(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Features of every match from what was known before its day (features.match_features), in
    tournament order; and the state serving needs to describe a further match of any tournament:
    its first day, its results so far, the per-stage means after the last day, and the competition
    means and team records as they stood when it began (what its own rows saw)."""
    known = Known()
    rows: dict[int, dict[str, float]] = {}
    tournaments: dict[str, dict] = {}
    starts = frame.groupby("tournament")["day"].min().sort_values()
    for tournament in starts.index:
        part = frame[frame["tournament"] == tournament]
        competition = part["competition"].iloc[0]
        at_start = Known.from_json(known.as_json())
        so_far: list[Played] = []
        for _, today in part.groupby("day", sort=True):
            before_today = SoFar(so_far)
            for r in today.itertuples():
                rows[r.Index] = match_features(as_match(r, starts[tournament]), before_today, known)
            known.add_day(competition, [(r.stage, min(r.fill, 1.0)) for r in today.itertuples()])
            so_far.extend(as_played(r) for r in today.itertuples())
        tournaments[tournament] = {
            "competition": competition, "start": starts[tournament].date().isoformat(),
            "last_day": part["day"].max().date().isoformat(), "hosts": list(part["hosts"].iloc[0]),
            "played": [p.__dict__ for p in so_far],
            "competition_fill": at_start.competition_fill, "team_points": at_start.team_points,
        }
        known.add_tournament(competition, so_far)
    features = pd.DataFrame.from_dict(rows, orient="index").loc[frame.index, FEATURE_NAMES]
    state = {"stage_fill": known.stage_fill, "tournaments": tournaments}
    return pd.concat([frame, features], axis=1), state


def team_summary(frame: pd.DataFrame) -> dict[str, dict]:
    """Per team, over every match in the data: mean fill, points per match, matches (GET /teams)."""
    out: dict[str, list[float]] = {}
    for r in frame.itertuples():
        fill = min(r.attendance / r.capacity, 1.0)
        for team, gf, ga in ((r.team_a, r.goals_a, r.goals_b), (r.team_b, r.goals_b, r.goals_a)):
            entry = out.setdefault(team, [0.0, 0.0, 0])
            entry[0] += fill
            entry[1] += 3.0 if gf > ga else 1.0 if gf == ga else 0.0
            entry[2] += 1
    return {team: {"past_fill_rate": round(f / n, 4), "points_per_match": round(p / n, 4), "matches": int(n)}
            for team, (f, p, n) in sorted(out.items())}


MATCH_COLUMNS = ["tournament", "competition", "day", "stage", "stadium", "team_a", "team_b", "goals_a", "goals_b",
                 "attendance", "capacity"]


def match_table(frame: pd.DataFrame) -> dict[str, list]:
    """Every match with its crowd, oldest first, as GET /matches serves it (from the artifact)."""
    rows = [[r.tournament, r.competition, r.day.date().isoformat(), r.stage, r.stadium, r.team_a, r.team_b,
             int(r.goals_a), int(r.goals_b), int(round(r.attendance)), int(round(r.capacity))]
            for r in frame.sort_values(["kickoff", "order"]).itertuples()]
    return {"columns": MATCH_COLUMNS, "rows": rows}


def stadium_table(frame: pd.DataFrame) -> dict[str, dict]:
    """Every stadium with its capacity, city and the host nations of its latest tournament."""
    table: dict[str, dict] = {}
    for r in frame.sort_values(["kickoff", "order"]).itertuples():
        entry = table.setdefault(r.stadium, {"matches": 0})
        entry.update(city=r.city, capacity=float(r.capacity), capacity_source=r.capacity_source,
                     hosts=list(r.hosts), last_tournament=r.tournament)
        entry["matches"] += 1
    return dict(sorted(table.items()))


def stadium_aliases(stadiums: dict[str, dict]) -> tuple[dict[str, str], dict[str, str]]:
    """normalized alias -> stadium, and normalized city -> its largest stadium."""
    aliases = {normalize(name): name for name in stadiums}
    for alias, target in STADIUM_ALIASES.items():
        if target in stadiums:
            aliases.setdefault(normalize(alias), target)
    cities: dict[str, str] = {}
    for name, entry in sorted(stadiums.items(), key=lambda kv: -kv[1]["capacity"]):
        cities.setdefault(normalize(entry["city"]), name)
    for alias, city in CITY_ALIASES.items():
        if city in cities:
            cities.setdefault(alias, cities[city])
    return aliases, cities


def team_aliases(teams: list[str]) -> dict[str, str]:
    aliases = {normalize(team): team for team in teams}
    for alias, target in TEAM_ALIASES.items():
        if target in teams:
            aliases.setdefault(normalize(alias), target)
    return aliases
