"""The outputs docs/services/*.md show are what their commands print (slow tier).

The metrics report of a full training (sales, flow, powerball: every line but the first, which names
the build's version, is one passage of the page). Each fresh-data example's commands are run as the docs write them, from the repository root, with their /tmp
paths moved under pytest's tmp_path. The last command's output must then match what the docs show:
either a whole print (every line but the first, which names the build's version, as one passage of
the page) or the `# ` excerpt lines inside the code block (each the start of an output line; a
trailing `...` marks a cut). Demand's tables are checked in tests/demand/test_docs.py; its and
forecast's fresh checks are told in prose; forecast's tables are not checked (their last cent has
moved between machines).
"""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow

# service page, a string naming the example's code block, whether the docs show the whole print
EXAMPLES = {
    "sales": [("sales.md", "services.sales.train --until", "excerpt")],
    "powerball": [("powerball.md", "services.powerball.train --until", "whole")],
    "flow": [("flow.md", "services.flow.train --until", "whole"),
             ("flow.md", "services.flow.fifo --out", "whole")],
}


def code_block(page: str, naming: str) -> list[str]:
    """The lines of the fenced block of `page` that contains `naming`."""
    blocks = re.findall(r"```[a-z]*\n(.*?)```", page, flags=re.S)
    found = [b for b in blocks if naming in b]
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


def run(command: str, tmp: str) -> str:
    argv = [sys.executable, *shlex.split(command.replace("/tmp/", f"{tmp}/"))[1:]]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PROGRESS": "0"})
    assert done.returncode == 0, f"{command}\n{done.stderr[-3000:]}"
    return done.stdout


def shown_after(page: str, lines: list[str]) -> str:
    """The docs' text after the block (where a whole print is shown)."""
    return page[page.index("\n".join(lines)):]


@pytest.mark.parametrize("service", sorted(EXAMPLES))
def test_docs_fresh_examples_print_what_the_docs_show(service, tmp_path):
    for page_name, naming, shown in EXAMPLES[service]:
        page = (ROOT / "docs" / "services" / page_name).read_text()
        lines = code_block(page, naming)
        printed = [run(c, str(tmp_path)) for c in commands(lines)][-1]
        if shown == "whole":
            body = printed.split("\n", 1)[1].strip()
            assert body in shown_after(page, lines), (
                f"docs/services/{page_name} (and README.md): replace the print after the block with {naming!r} "
                f"by this output:\n{printed}")
        else:
            output = printed.splitlines()
            for excerpt in (line[2:] for line in lines if line.startswith("# ")):
                start = excerpt[:-3].rstrip() if excerpt.endswith("...") else excerpt
                assert any(line.startswith(start) if excerpt.endswith("...") else line == start
                           for line in output), (
                    f"docs/services/{page_name} (and README.md): {excerpt!r} is not in the output:\n{printed}")


@pytest.mark.parametrize("service", ["flow", "powerball", "sales"])
def test_docs_metrics_are_the_report_of_a_full_training(service, tmp_path):
    run(f"python -m services.{service}.train --no-publish --quiet --output /tmp/{service}-full", str(tmp_path))
    printed = run(f"python -m services.common.report {service} --manifest /tmp/{service}-full/manifest.json",
                  str(tmp_path))
    body = printed.split("\n", 1)[1].strip()
    page = (ROOT / "docs" / "services" / f"{service}.md").read_text()
    assert body in page, (f"docs/services/{service}.md (and README.md): replace the report block by this output of "
                          f"a full training:\n{printed}")
