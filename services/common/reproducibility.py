"""Same seed, same bytes: retrain a service twice and compare every file of the two builds.

    python -m services.common.reproducibility powerball [--small] [--seed 42]

Every artifact must be byte-identical; manifest.json must be identical apart from the fields
that name the build itself (`version`, `created_at`). Services' tests call
`assert_reproducible(train.main, [...], tmp_path)`.
"""
from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path
from typing import Callable

from .manifest import MANIFEST_NAME

VOLATILE = ("version", "created_at")


def compare_builds(first: Path, second: Path) -> list[str]:
    """What differs between two build folders (empty when they are the same build)."""
    names_a = sorted(p.name for p in Path(first).iterdir() if p.is_file())
    names_b = sorted(p.name for p in Path(second).iterdir() if p.is_file())
    if names_a != names_b:
        return [f"files differ: {sorted(set(names_a) ^ set(names_b))}"]
    problems = []
    for name in names_a:
        a, b = (Path(first) / name).read_bytes(), (Path(second) / name).read_bytes()
        if name == MANIFEST_NAME:
            ma, mb = json.loads(a), json.loads(b)
            for key in VOLATILE:
                ma.pop(key, None), mb.pop(key, None)
            if ma != mb:
                keys = sorted(k for k in set(ma) | set(mb) if ma.get(k) != mb.get(k))
                problems.append(f"{name}: fields differ: {keys}")
        elif a != b:
            problems.append(f"{name}: {len(a)} vs {len(b)} bytes, contents differ")
    return problems


def retrain_twice(main: Callable[[list[str]], object], argv: list[str], root: Path) -> tuple[Path, Path]:
    """Run a training CLI's main twice into root/a and root/b without publishing."""
    builds = Path(root) / "a", Path(root) / "b"
    for build in builds:
        main([*argv, "--no-publish", "--quiet", "--output", str(build)])
    return builds


def assert_reproducible(main: Callable[[list[str]], object], argv: list[str], root: Path) -> list[str]:
    """Retrain twice with the same arguments (give --seed); every file must match. Returns the files compared."""
    first, second = retrain_twice(main, argv, root)
    problems = compare_builds(first, second)
    assert not problems, "retraining with the same seed changed artifacts:\n" + "\n".join(problems)
    return sorted(p.name for p in first.iterdir() if p.is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("service")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--root", type=Path, default=None, help="where the two builds go (default: a temp folder)")
    args = parser.parse_args(argv)
    import tempfile

    root = args.root or Path(tempfile.mkdtemp(prefix=f"reproduce-{args.service}-"))
    train = importlib.import_module(f"services.{args.service}.train")
    problems = compare_builds(*retrain_twice(train.main, ["--seed", str(args.seed), *(["--small"] if args.small else [])],
                                             root))
    print("\n".join(problems) if problems else f"{args.service}: two builds with seed {args.seed} are identical ({root})")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
