"""Checks that the outputs docs/services/*.md show are what their commands print (helpers for each
service's tests/<service>/test_docs.py, slow tier).

Commands are run as the docs write them, from the repository root, with their /tmp paths moved
under the test's tmp_path. A metrics report must be, but for its first line (it names the build's
version), one passage of the page. A fresh-data example's last command must print either what the
page shows after the block (every line but the first) or, for an excerpt, the `# ` lines inside
the block (each an output line; a trailing `...` marks a cut, the rest must start a line).
"""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def page(name: str) -> str:
    return (ROOT / "docs" / "services" / name).read_text()


def code_block(text: str, naming: str) -> list[str]:
    """The lines of the one fenced block of `text` that contains `naming`."""
    found = [b for b in re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S) if naming in b]
    assert len(found) == 1, f"expected one code block with {naming!r}, found {len(found)}"
    return found[0].splitlines()


def commands(lines: list[str]) -> list[str]:
    """The block's `python -m ...` commands, continuation lines joined."""
    out, current = [], ""
    for line in lines:
        if line.startswith("#") or not (line.strip() or current):
            continue
        current += line.rstrip("\\").strip() + " "
        if not line.endswith("\\"):
            out.append(current.strip())
            current = ""
    assert out and all(c.startswith("python -m ") for c in out), out
    return out


def run(command: str, tmp: Path) -> str:
    """One documented command, its stdout (a failure shows its stderr)."""
    argv = [sys.executable, *shlex.split(command.replace("/tmp/", f"{tmp}/"))[1:]]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PROGRESS": "0"})
    assert done.returncode == 0, f"{command}\n{done.stderr[-3000:]}"
    return done.stdout


def full_training(service: str) -> str:
    """The command check_metrics_report trains with (it adds --quiet, which only hushes stderr)."""
    return f"python -m services.{service}.train --no-publish --output /tmp/{service}-full"


def check_metrics_report(service: str, tmp: Path) -> None:
    """The page's metrics block is the report of a full training with the default seed, left in
    /tmp/<service>-full under `tmp` for an example that starts from the same command."""
    run(full_training(service) + " --quiet", tmp)
    printed = run(f"python -m services.common.report {service} --manifest /tmp/{service}-full/manifest.json", tmp)
    assert printed.split("\n", 1)[1].strip() in page(f"{service}.md"), (
        f"docs/services/{service}.md (and README.md): replace the report block by this output of a full "
        f"training:\n{printed}")


def check_fresh_example(page_name: str, naming: str, tmp: Path, excerpt: bool = False,
                        already_run: str | None = None) -> None:
    """Run the block that contains `naming`; its last command prints what the page shows.
    `already_run`: a command of the block this test has run into the same `tmp` (a full training),
    which must be in the block as written and is not run twice."""
    text = page(page_name)
    lines = code_block(text, naming)
    block = commands(lines)
    assert already_run is None or already_run in block, f"{already_run!r} is not a command of the block: {block}"
    printed = [run(c, tmp) for c in block if c != already_run][-1]
    where = f"docs/services/{page_name} (and README.md), the block with {naming!r}"
    if not excerpt:
        after = text[text.index("\n".join(lines)):]
        assert printed.split("\n", 1)[1].strip() in after, f"{where}: show this output after it:\n{printed}"
        return
    output = printed.splitlines()
    for shown in (line[2:] for line in lines if line.startswith("# ")):
        cut = shown.endswith("...")
        start = shown[:-3].rstrip() if cut else shown
        assert any(line.startswith(start) if cut else line == start for line in output), (
            f"{where}: {shown!r} is not in the output:\n{printed}")
