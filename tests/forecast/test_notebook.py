"""notebooks/forecast.py runs top to bottom on a small slice."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT


@pytest.mark.slow
def test_notebook_runs_on_a_small_slice(tmp_path):
    env = {**os.environ, "NOTEBOOK_SMALL": "1", "NOTEBOOK_OUTPUT": str(tmp_path), "MPLBACKEND": "Agg"}
    out = subprocess.run([sys.executable, "notebooks/forecast.py"], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert list(tmp_path.glob("*.png")), "the notebook saves its figures under NOTEBOOK_OUTPUT"
