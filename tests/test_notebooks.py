"""Every notebook runs top to bottom on a small slice (as a plain script: jupytext percent format)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import jupytext
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.py"))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_on_a_small_slice(notebook, tmp_path):
    parsed = jupytext.read(notebook)
    assert any(cell.cell_type == "markdown" for cell in parsed.cells), "a notebook explains itself"
    env = {**os.environ, "NOTEBOOK_SMALL": "1", "NOTEBOOK_OUTPUT": str(tmp_path), "MPLBACKEND": "Agg"}
    out = subprocess.run([sys.executable, str(notebook)], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert list(tmp_path.glob("*.png")), "the notebook saved no figure"
