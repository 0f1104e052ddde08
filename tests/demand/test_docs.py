"""The README's demand tables are what the report prints for a fresh full training (slow tier)."""
from __future__ import annotations

import contextlib
import io

import pytest

from services.common import report
from services.demand import pipeline
from tests.demand.conftest import ROOT

pytestmark = pytest.mark.slow


def test_docs_tables_are_the_report_of_a_full_training(tmp_path):
    out = tmp_path / "full"
    pipeline.run(["--quiet", "--no-publish", "--seed", "42", "--output", str(out),
                  "--database-url", f"sqlite:///{tmp_path / 'warehouse.db'}", "--report", str(tmp_path / "r.txt")])
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        report.main(["demand", "--manifest", str(out / "manifest.json")])
    body = printed.getvalue().split("\n", 2)[2].strip()   # without the line naming the build's version
    docs = (ROOT / "docs" / "services" / "demand.md").read_text()
    assert body in docs, "regenerate the tables in docs/services/demand.md (and README.md) from this report"
