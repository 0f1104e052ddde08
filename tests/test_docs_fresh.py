"""The fresh-data examples in docs/services/*.md are what their commands print (slow tier).

Each example's commands are run as the docs write them, from the repository root, with their /tmp
paths moved under pytest's tmp_path. The last command's output must then match what the docs show:
either a whole print (every line but the first, which names the build's version, as one passage of
the page) or the `# ` excerpt lines inside the code block (each the start of an output line; a
trailing `...` marks a cut). Demand's and forecast's fresh checks are told in prose and are not here.
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
