"""Train every registry service whose model is missing from the store (used by `make run`).

    python -m services.common.bootstrap [--force] [--jobs N] [service ...]

A service without a package or a train module yet is skipped with a message. Trainings run side by side,
`--jobs` at a time (default `TRAIN_JOBS`, else 2 or the machine's cores if fewer): each is one process
on one core for most of its run, so two at once roughly halve `make run`'s wait on 2 cores. With more
than one at a time each training writes to `var/log/train-<service>.log` (its progress bars and
verdicts), and this prints a line when one starts, every 30 s while any runs, and when one ends, with the
log's tail if it failed; with `--jobs 1` the training writes to this terminal as it goes.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from .config import load_settings
from .registry import load_registry
from .store import ModelStore

ROOT = Path(__file__).resolve().parents[2]
LOG_DIR = ROOT / "var" / "log"
HEARTBEAT_SECONDS = 30.0


def default_jobs() -> int:
    raw = os.environ.get("TRAIN_JOBS", "")
    if raw:
        if not raw.isdigit() or int(raw) < 1:
            raise SystemExit(f"TRAIN_JOBS must be a whole number >= 1, got {raw!r}")
        return int(raw)
    return max(1, min(2, os.cpu_count() or 1))


def train_command(name: str) -> list[str]:
    return [sys.executable, "-m", f"services.{name}.train"]


def say(msg: str) -> None:
    print(msg, flush=True)


def train_all(names: list[str], jobs: int, log_dir: Path = LOG_DIR,
              command: Callable[[str], list[str]] = train_command) -> list[str]:
    """Run `command(name)` for each name, `jobs` at a time; the names that failed."""
    waiting, running, failed = list(names), {}, []
    if jobs > 1:
        log_dir.mkdir(parents=True, exist_ok=True)
    last_beat = time.monotonic()
    while waiting or running:
        while waiting and len(running) < jobs:
            name = waiting.pop(0)
            if jobs == 1:
                say(f"[{name}] training ({' '.join(command(name)[1:])})")
                proc, log = subprocess.Popen(command(name)), None
            else:
                log = log_dir / f"train-{name}.log"
                say(f"[{name}] training ({' '.join(command(name)[1:])}; log: {log})")
                with log.open("wb") as out:
                    proc = subprocess.Popen(command(name), stdout=out, stderr=subprocess.STDOUT)
            running[name] = (proc, time.monotonic(), log)
        time.sleep(0.2)
        for name, (proc, started, log) in list(running.items()):
            if proc.poll() is None:
                continue
            del running[name]
            took = time.monotonic() - started
            if proc.returncode == 0:
                say(f"[{name}] trained in {took:.0f}s")
                continue
            failed.append(name)
            say(f"[{name}] training FAILED (exit {proc.returncode}) after {took:.0f}s")
            if log is not None:
                tail = log.read_text(errors="replace").splitlines()[-20:]
                say("\n".join(f"[{name}]   {line}" for line in tail))
        if running and time.monotonic() - last_beat >= HEARTBEAT_SECONDS:
            last_beat = time.monotonic()
            now = time.monotonic()
            say("[bootstrap] training " + ", ".join(f"{n} ({now - s:.0f}s)" for n, (_, s, _) in running.items())
                + (f"; waiting: {', '.join(waiting)}" if waiting else ""))
    return failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("services", nargs="*", help="services to check (default: all in the registry)")
    parser.add_argument("--force", action="store_true", help="train even when a model is published")
    parser.add_argument("--jobs", type=int, default=None, help="trainings at once (default TRAIN_JOBS, else "
                                                               "2 or the cores if fewer)")
    args = parser.parse_args(argv)
    jobs = args.jobs if args.jobs is not None else default_jobs()
    if jobs < 1:
        parser.error("--jobs must be >= 1")
    settings = load_settings()
    store = ModelStore(settings.model_store_uri, settings.model_cache_dir)
    names = args.services or load_registry().names()
    todo = []
    for name in names:
        if importlib.util.find_spec(f"services.{name}") is None or \
                importlib.util.find_spec(f"services.{name}.train") is None:
            say(f"[{name}] not built yet: skipped")
            continue
        if store.has_latest(name) and not args.force:
            say(f"[{name}] model {store.latest_version(name)} is published: nothing to train")
            continue
        say(f"[{name}] no model in {store.uri}")
        todo.append(name)
    if not todo:
        return 0
    started = time.monotonic()
    failed = train_all(todo, jobs)
    say(f"[bootstrap] {len(todo) - len(failed)} of {len(todo)} trained in {time.monotonic() - started:.0f}s "
        f"({min(jobs, len(todo))} at a time)")
    if failed:
        print(f"training failed for: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
