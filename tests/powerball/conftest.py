"""Powerball fixtures: one real training run (few boosting rounds) published to a file store,
and an app serving it. Training runs once per test session."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.common.manifest import MANIFEST_NAME
from tests.conftest import make_settings

ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = ROOT / "data" / "powerball"
CSV = DATA_DIR / "Lottery_Powerball_Winning_Numbers__Beginning_2010.csv"
ERAS_JSON = DATA_DIR / "eras.json"


@pytest.fixture(scope="session")
def powerball_trained(tmp_path_factory) -> dict:
    """`python -m services.powerball.train` end to end (3 rounds to stay fast), published to a file store."""
    from services.powerball import train

    root = tmp_path_factory.mktemp("powerball")
    out, store_uri = root / "build", (root / "store").as_uri()
    manifest = train.main(["--rounds", "3", "--quiet", "--output", str(out), "--store-uri", store_uri])
    return {"dir": out, "manifest": manifest, "store_uri": store_uri, "root": root}


@pytest.fixture(scope="session")
def powerball_artifact(powerball_trained) -> Path:
    return powerball_trained["dir"]


@pytest.fixture(scope="session")
def powerball_manifest(powerball_artifact) -> dict:
    return json.loads((powerball_artifact / MANIFEST_NAME).read_text())


@pytest.fixture(scope="session")
def powerball_app(powerball_trained):
    from services.powerball.api import create_app

    settings = make_settings(powerball_trained["store_uri"], powerball_trained["root"])
    app = create_app(settings, start_model_refresh=False)
    assert app.extensions["model_holder"].refresh(), app.extensions["model_holder"].last_error
    return app


@pytest.fixture
def client(powerball_app):
    return powerball_app.test_client()


@pytest.fixture(scope="session")
def loaded_model(powerball_app):
    return powerball_app.extensions["model_holder"].current.model
