"""Fixtures of the forecast tests: one small real artifact, trained once per session."""
from __future__ import annotations

from pathlib import Path

import pytest

SMALL = ["--limit", "150", "--no-publish", "--quiet"]


@pytest.fixture(scope="session")
def forecast_artifact(tmp_path_factory) -> Path:
    """A real forecast version folder trained on a small slice (first 150 World Cup matches + AFCON)."""
    out = tmp_path_factory.mktemp("forecast-artifact")
    from services.forecast import train

    train.main([*SMALL, "--output", str(out)])
    return out
