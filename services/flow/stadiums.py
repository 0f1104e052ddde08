"""Stadium configuration as data (stadiums.json, derived from the AFCON 2025 venues CSV)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

STADIUMS_PATH = Path(__file__).resolve().parent / "stadiums.json"


@dataclass(frozen=True)
class Gate:
    id: str
    lanes: int


@dataclass(frozen=True)
class Stadium:
    id: str
    name: str
    city: str
    capacity: int
    gates: tuple[Gate, ...]
    walk_minutes: tuple[tuple[float, ...], ...]

    @property
    def gate_ids(self) -> list[str]:
        return [g.id for g in self.gates]

    def gate(self, gate_id: str) -> Gate | None:
        for g in self.gates:
            if g.id == gate_id:
                return g
        return None

    def walk(self, a: str, b: str) -> float:
        ids = self.gate_ids
        return self.walk_minutes[ids.index(a)][ids.index(b)]


@lru_cache(maxsize=4)
def load_stadiums(path: Path = STADIUMS_PATH) -> dict[str, Stadium]:
    doc = json.loads(Path(path).read_text())
    stadiums = {}
    for s in doc["stadiums"]:
        gates = tuple(Gate(g["id"], int(g["lanes"])) for g in s["gates"])
        walk = tuple(tuple(float(v) for v in row) for row in s["walk_minutes"])
        if len(walk) != len(gates) or any(len(row) != len(gates) for row in walk):
            raise ValueError(f"{path}: {s['id']}: walk_minutes must be {len(gates)}x{len(gates)}")
        stadiums[s["id"]] = Stadium(s["id"], s["name"], s["city"], int(s["capacity"]), gates, walk)
    return stadiums
