"""The powerball page's metrics report and fresh-data example are what their commands print (slow tier)."""
from __future__ import annotations

import pytest

from tests.docs_outputs import check_fresh_example, check_metrics_report

pytestmark = pytest.mark.slow


def test_docs_metrics_are_the_report_of_a_full_training(tmp_path):
    check_metrics_report("powerball", tmp_path)


def test_docs_fresh_example_prints_what_the_page_shows(tmp_path):
    check_fresh_example("powerball.md", "services.powerball.train --until", tmp_path)
