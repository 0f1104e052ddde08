"""The flow page's metrics report and fresh-data examples are what their commands print (slow tier)."""
from __future__ import annotations

import pytest

from tests.docs_outputs import check_fresh_example, check_metrics_report

pytestmark = pytest.mark.slow


def test_docs_metrics_are_the_report_of_a_full_training(tmp_path):
    check_metrics_report("flow", tmp_path)


def test_docs_fresh_examples_print_what_the_page_shows(tmp_path):
    """The plan's next days, then the second engine's check days through the same --until model."""
    check_fresh_example("flow.md", "services.flow.train --until", tmp_path)
    check_fresh_example("flow.md", "services.flow.fifo --out", tmp_path)
