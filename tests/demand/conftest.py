"""Demand fixtures: a trained artifact (--small), the real PostgreSQL, per-run schemas.

Env read by these tests:
- TEST_POSTGRES_URL: SQLAlchemy URL of the PostgreSQL server
  (default postgresql+psycopg://postgres@127.0.0.1:5432/test, trust auth);
- ALLOW_SKIP_POSTGRES=1: skip the PostgreSQL tests when the server is unreachable
  (otherwise they FAIL with a message saying how to start it).
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from tests.conftest import make_settings

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data" / "retail_demand" / "dunnhumby_frozen_pizza_weekly.csv"
SMALL_RUN = ["--small", "--quiet", "--no-publish", "--seed", "42"]


@pytest.fixture(scope="session")
def postgres_url() -> str:
    url = os.environ.get("TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any connection failure means the same thing here
        message = (f"PostgreSQL is unreachable at {url} ({type(exc).__name__}: {str(exc).splitlines()[0]}). "
                   "Start it (e.g. pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start; "
                   "database 'test', user postgres, trust auth) or set TEST_POSTGRES_URL; "
                   "set ALLOW_SKIP_POSTGRES=1 to skip these tests locally.")
        if os.environ.get("ALLOW_SKIP_POSTGRES") == "1":
            pytest.skip(message)
        pytest.fail(message, pytrace=False)
    finally:
        engine.dispose()
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def warehouse(request, tmp_path):
    """An empty warehouse on SQLite (a temp file) and on the real PostgreSQL (a schema dropped after)."""
    from services.demand.warehouse import Warehouse

    if request.param == "sqlite":
        wh = Warehouse(f"sqlite:///{tmp_path / 'warehouse.db'}")
    else:
        wh = Warehouse(request.getfixturevalue("postgres_url"), schema=f"demand_test_{uuid.uuid4().hex[:12]}")
    yield wh
    wh.drop()
    wh.dispose()


@pytest.fixture(scope="session")
def demand_run(tmp_path_factory):
    """One small pipeline run on the shipped data into a temp folder (not published): (manifest, folder)."""
    from services.demand import pipeline

    base = tmp_path_factory.mktemp("demand-run")
    out = base / "artifact"
    manifest = pipeline.run([*SMALL_RUN, "--output", str(out), "--database-url", f"sqlite:///{base / 'warehouse.db'}",
                             "--report", str(base / "report.txt")])
    return manifest, out


@pytest.fixture(scope="session")
def demand_artifact(demand_run) -> Path:
    return demand_run[1]


@pytest.fixture
def demand_app(demand_artifact, tmp_path):
    """The demand app over a file store holding the quick artifact, model loaded."""
    from services.common.store import ModelStore
    from services.demand.api import create_app

    uri = (tmp_path / "store").as_uri()
    ModelStore(uri, tmp_path / "publish-cache").publish("demand", demand_artifact)
    app = create_app(make_settings(uri, tmp_path), start_model_refresh=False)
    holder = app.extensions["model_holder"]
    assert holder.refresh(), holder.last_error
    return app
