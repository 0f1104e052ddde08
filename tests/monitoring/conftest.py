"""Monitoring fixtures: a monitoring store per test (SQLite file, or a DynamoDB table on the moto
server, the real DynamoDB API), and a toy service that opts in to monitoring."""
from __future__ import annotations

import json
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import Field

from services.common import drift
from services.common.api import Api, RequestModel, current_model
from services.common.app import create_service_app
from services.common.drift import CATEGORY, NUMBER, Feature
from services.common.manifest import build_manifest
from services.common.monitoring import Monitoring, absolute_error
from services.common.store import ModelStore
from tests.conftest import make_settings

FEATURES = [Feature("x", NUMBER), Feature("color", CATEGORY)]


def create_table(endpoint: str) -> str:
    import boto3

    name = f"monitoring-{uuid.uuid4().hex[:10]}"
    client = boto3.client("dynamodb", endpoint_url=endpoint)
    client.create_table(TableName=name, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                        BillingMode="PAY_PER_REQUEST")
    return name


@pytest.fixture(scope="session")
def serial_moto(aws_env):
    """A DynamoDB endpoint (moto) that applies requests one at a time, atomically, as DynamoDB does."""
    import subprocess
    import sys

    from tests.conftest import ROOT, free_port, wait_for_port

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "tests.monitoring.serial_moto", str(port)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(params=["sqlite", "dynamodb"])
def monitoring_env(request, tmp_path, monkeypatch) -> dict[str, str]:
    """MONITORING_* for one test: its own SQLite folder, or its own table on the serial moto server."""
    env = {"MONITORING_FLUSH_SECONDS": "3600", "MONITORING_EMF_SECONDS": "0"}
    if request.param == "sqlite":
        env.update(MONITORING_BACKEND="sqlite", MONITORING_SQLITE_DIR=str(tmp_path / "monitoring"))
    else:
        # DynamoDB on the serial moto server (S3 stays on the session's threaded one). moto's threaded server
        # deep-copies a table for each TransactWriteItems (its rollback copy) without a lock: a write to the
        # same table from another thread during the copy raises "dictionary changed size during iteration",
        # answered as an HTTP 500, three times over with botocore's retries, and /actuals answered 503
        # (test_replay[dynamodb]'s demand and sales 503s); a cancelled transaction's rollback also restores
        # that copy over writes made meanwhile. DynamoDB applies each call atomically, as the serial server does.
        endpoint = request.getfixturevalue("serial_moto")
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", endpoint)
        env.update(MONITORING_BACKEND="dynamodb", MONITORING_DYNAMODB_TABLE=create_table(endpoint))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


class Row(RequestModel):
    x: float = Field(ge=-1000, le=1000)
    color: str = Field(min_length=1, max_length=20)


class Actual(Row):
    id: int = Field(ge=0)
    y: float


def toy_api() -> Api:
    api = Api("toy")

    @api.route("/predict", methods=("POST",), body=Row)
    def predict(body: Row):
        loaded = current_model()
        return {"prediction": body.x * loaded.model["scale"], "model_version": loaded.version}

    return api


def toy_monitoring() -> Monitoring:
    def score(actual: Actual, loaded):
        return absolute_error(f"2026-01-{1 + actual.id % 28:02d}", actual.y, actual.x * loaded.model["scale"],
                              loaded.model["baseline"], in_training=actual.id < 10)

    return Monitoring(features=FEATURES, observe={"predict": lambda objects, model: [objects["body"].model_dump()]},
                      actual=Actual, key=lambda a: {"id": a.id}, score=score, metric="MAE",
                      actuals_note="an actual is a row (x, color) with its id and outcome y")


def training_frame(n=1000, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"x": rng.normal(0, 1, n), "color": rng.choice(["red", "blue"], n)})


def publish_toy(store: ModelStore, tmp_path: Path, version: str, *, scale=2.0, baseline=0.0, profile=True) -> None:
    folder = tmp_path / f"build-{version}"
    folder.mkdir()
    (folder / "model.json").write_text(json.dumps({"scale": scale, "baseline": baseline}))
    summary = {"model": "scaled", "baseline": "constant", "metric": "MAE", "model_score": 1.0,
               "baseline_score": 2.0, "statement": "scaled beats the constant baseline on held-out data: MAE 1 vs 2"}
    build_manifest(folder, service="toy", version=version, metrics={"summary": summary}, features=[],
                   data_fingerprint="x", libraries=[],
                   extra={"profile": drift.profile(training_frame(), FEATURES)} if profile else None)
    store.publish("toy", folder)


@pytest.fixture
def toy(monitoring_env, file_store_uri, tmp_path):
    """The toy app over a store holding v1; refresh by hand."""
    settings = make_settings(file_store_uri, tmp_path)
    app = create_service_app(toy_api(), lambda d, m: json.loads((d / "model.json").read_text()), settings,
                             start_model_refresh=False, extensions={"monitoring_spec": toy_monitoring()})
    store = app.extensions["model_store"]
    publish_toy(store, tmp_path, "v1")
    app.extensions["model_holder"].refresh()
    return app


# -- the real services, trained small once per session ----------------------------------------
@pytest.fixture(scope="session")
def trained(tmp_path_factory, request):
    """name -> a version folder of that service trained small (as its own tests train it), not published."""
    from importlib import import_module

    built: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name == "sales":                  # the session's sales artifact (tests/conftest.py)
            return request.getfixturevalue("sales_artifact")
        if name not in built:
            base = tmp_path_factory.mktemp(f"{name}-trained")
            out = base / "artifact"
            common = ["--quiet", "--no-publish", "--output", str(out)]
            if name == "demand":
                import_module("services.demand.pipeline").run(
                    ["--quick", *common, "--database-url", f"sqlite:///{base / 'warehouse.db'}",
                     "--report", str(base / "report.txt")])
            else:
                small = {"forecast": ["--small"], "powerball": ["--small"], "flow": ["--small"]}[name]
                import_module(f"services.{name}.train").main([*small, *common])
            built[name] = out
        return built[name]

    return get


@pytest.fixture
def service_app(trained, monitoring_env, tmp_path):
    """app_for(name): the service's app over a store holding its small model, loaded (monitoring on)."""
    from importlib import import_module

    from services.common.store import ModelStore

    def app_for(name: str, **kwargs):
        uri = (tmp_path / "store").as_uri()
        ModelStore(uri, tmp_path / "publish").publish(name, trained(name))
        app = import_module(f"services.{name}.api").create_app(make_settings(uri, tmp_path),
                                                               start_model_refresh=False, **kwargs)
        holder = app.extensions["model_holder"]
        assert holder.refresh(), holder.last_error
        return app

    return app_for
