"""Flow fixtures: one small trained artifact per session, apps over a temporary SQLite state."""
from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def flow_artifact(tmp_path_factory) -> Path:
    """A real flow version folder from a small simulation (--small), not published."""
    out = tmp_path_factory.mktemp("flow-artifact")
    from services.flow import train

    train.main(["--small", "--no-publish", "--quiet", "--output", str(out)])
    return out


@pytest.fixture(scope="session")
def flow_store_uri(flow_artifact, tmp_path_factory) -> str:
    from services.common.store import ModelStore

    tmp = tmp_path_factory.mktemp("flow-store")
    uri = (tmp / "store").as_uri()
    ModelStore(uri, tmp / "cache").publish("flow", flow_artifact)
    return uri
