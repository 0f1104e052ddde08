"""An app per built service, each with a small real model loaded (trained once per session, on demand)."""
from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from services.common.store import ModelStore
from tests.conftest import make_settings


class SmallModels:
    """Trains each service's `--small` slice the first time a test asks for it."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.uri = (tmp / "store").as_uri()
        self.store = ModelStore(self.uri, tmp / "cache")
        self._apps: dict = {}

    def publish(self, name: str) -> str:
        if not self.store.has_latest(name):
            import os

            out = self.tmp / f"build-{name}"
            # demand's pipeline loads a warehouse: keep it in this session's folder, not var/
            saved = os.environ.get("DATABASE_URL")
            os.environ["DATABASE_URL"] = f"sqlite:///{self.tmp / 'warehouse.db'}"
            try:
                importlib.import_module(f"services.{name}.train").main(
                    ["--small", "--no-publish", "--quiet", "--output", str(out)])
            finally:
                if saved is None:
                    os.environ.pop("DATABASE_URL", None)
                else:
                    os.environ["DATABASE_URL"] = saved
            self.store.publish(name, out)
        return self.store.latest_version(name)

    def app(self, name: str):
        if name not in self._apps:
            self.publish(name)
            module = importlib.import_module(f"services.{name}.api")
            app = module.create_app(make_settings(self.uri, self.tmp / f"run-{name}"), start_model_refresh=False)
            assert app.extensions["model_holder"].refresh(), f"{name}: model did not load"
            self._apps[name] = app
        return self._apps[name]


@pytest.fixture(scope="session")
def small_models(tmp_path_factory) -> SmallModels:
    return SmallModels(tmp_path_factory.mktemp("small-models"))
