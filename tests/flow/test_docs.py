"""The flow page's metrics report and fresh-data examples are what their commands print (slow tier)."""
from __future__ import annotations

import pytest

from tests.docs_outputs import check_fresh_example, check_metrics_report, full_training

pytestmark = pytest.mark.slow


def test_docs_metrics_and_fresh_examples_print_what_the_page_shows(tmp_path):
    """One full training (simulated data: the plan's next days are later rows without leaving any
    out), its report, then the plan's next days and the second engine's check days through it."""
    check_metrics_report("flow", tmp_path)
    check_fresh_example("flow.md", "services.flow.fresh --manifest", tmp_path, already_run=full_training("flow"))
    check_fresh_example("flow.md", "services.flow.fifo --out", tmp_path)
