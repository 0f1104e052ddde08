"""Small helpers over python-hcl2's output: strip its literal quoting and
block markers, find blocks, and expand `${each.key}` / `${each.value.x}`
templates for one registry entry."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import hcl2

from .conftest import TERRAFORM


def _unquote(value: Any) -> Any:
    if isinstance(value, str):
        if len(value) >= 2 and value[0] == value[-1] == '"':
            return value[1:-1]
        return value
    if isinstance(value, list):
        return [_unquote(v) for v in value]
    if isinstance(value, dict):
        return {_unquote(k): _unquote(v) for k, v in value.items() if k not in ("__is_block__", "__comments__")}
    return value


@lru_cache(maxsize=None)
def load(path: Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as f:
        return _unquote(hcl2.load(f))


def module_dir(name: str | None) -> Path:
    return TERRAFORM if name is None else TERRAFORM / "modules" / name


def blocks(kind: str, module: str | None = None) -> dict[str, dict[str, Any]]:
    """All `kind` blocks (resource, data) of a module as {"type.name": body}."""
    found: dict[str, dict[str, Any]] = {}
    for tf in sorted(module_dir(module).glob("*.tf")):
        for entry in load(tf).get(kind, []):
            for rtype, named in entry.items():
                for rname, body in named.items():
                    found[f"{rtype}.{rname}"] = body
    return found


def resources(module: str | None = None) -> dict[str, dict[str, Any]]:
    return blocks("resource", module)


def data(module: str | None = None) -> dict[str, dict[str, Any]]:
    return blocks("data", module)


def module_calls(root: Path = TERRAFORM) -> dict[str, dict[str, Any]]:
    calls: dict[str, dict[str, Any]] = {}
    for tf in sorted(root.glob("*.tf")):
        for entry in load(tf).get("module", []):
            calls.update(entry)
    return calls


def locals_(module: str | None = None) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for tf in sorted(module_dir(module).glob("*.tf")):
        for entry in load(tf).get("locals", []):
            merged.update(entry)
    return merged


def variables(module: str | None = None) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for entry in load(module_dir(module) / "variables.tf").get("variable", []):
        found.update(entry)
    return found


def outputs(module: str | None = None) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for entry in load(module_dir(module) / "outputs.tf").get("output", []):
        found.update(entry)
    return found


_EACH = re.compile(r"\$\{each\.(key|value\.([A-Za-z_][A-Za-z0-9_]*))\}")


def expand(template: str, key: str, value: dict[str, Any]) -> str:
    """Substitute ${each.key} and ${each.value.<field>} for one for_each entry;
    anything else is left as written."""

    def sub(m: re.Match) -> str:
        return key if m.group(1) == "key" else str(value[m.group(2)])

    return _EACH.sub(sub, template)


def one(value: Any) -> Any:
    """hcl2 gives nested blocks as lists; most appear once."""
    if isinstance(value, list):
        assert len(value) == 1, value
        return value[0]
    return value
