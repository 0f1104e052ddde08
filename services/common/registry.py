"""Reads services/registry.json, the one list of services."""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, Field

REGISTRY_PATH = Path(__file__).resolve().parent.parent / "registry.json"


class ServiceEntry(BaseModel):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    path_prefix: str
    port: int = Field(ge=1, le=65535)
    cpu: int
    memory: int
    min_tasks: int = Field(ge=0)
    max_tasks: int = Field(ge=1)
    model_prefix: str
    health_path: str
    priority: int


class Registry(BaseModel):
    services: list[ServiceEntry]

    def get(self, name: str) -> ServiceEntry:
        for entry in self.services:
            if entry.name == name:
                return entry
        raise KeyError(f"unknown service {name!r}; known: {', '.join(self.names())}")

    def names(self) -> list[str]:
        return [entry.name for entry in self.services]


@lru_cache(maxsize=1)
def load_registry(path: Path = REGISTRY_PATH) -> Registry:
    return Registry.model_validate(json.loads(Path(path).read_text()))
