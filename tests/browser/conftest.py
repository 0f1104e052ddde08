"""Browser tests: the gateway with trained models on 127.0.0.1, driven by Debian's headless Chromium.

Playwright for Python drives the system browser (/usr/bin/chromium, or $CHROMIUM_PATH); no
browser is ever downloaded. Without chromium or playwright these tests skip with the reason,
except when $CI is set: then they fail, so CI cannot pass without running them.
"""
from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import ROOT, free_port, make_settings

CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = ROOT / "test-artifacts" / "screenshots"


def _unavailable(reason: str):
    message = f"BROWSER TESTS NOT RUN: {reason}"
    if os.environ.get("CI"):
        pytest.fail(message + " (CI is set, so this is a failure, not a skip)", pytrace=False)
    pytest.skip(message)


def chromium_executable() -> str:
    path = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        _unavailable(f"no chromium at {path}; install Debian's: apt-get install -y chromium")
    if importlib.util.find_spec("playwright") is None:
        _unavailable("the playwright package is not installed in this venv (pip install playwright)")
    return path


def service_built(name: str) -> bool:
    return (importlib.util.find_spec(f"services.{name}") is not None
            and importlib.util.find_spec(f"services.{name}.api") is not None)


# ------------------------------------------------------------------ models

def _train_small(name: str, out: Path) -> None:
    """Train one service small into `out` (a version folder, not published), as its own tests do."""
    from importlib import import_module

    common = ["--quiet", "--no-publish", "--output", str(out)]
    if name == "demand":
        pipeline = import_module("services.demand.pipeline")
        work = out.parent
        pipeline.run(["--quick", *common, "--database-url", f"sqlite:///{work / 'warehouse.db'}",
                      "--report", str(work / "report.txt")])
        return
    small = {"forecast": ["--limit", "150"], "powerball": ["--rounds", "3"], "flow": ["--small"]}[name]
    import_module(f"services.{name}.train").main([*small, *common])


@pytest.fixture(scope="session")
def ui_store(request, tmp_path_factory) -> dict:
    """A file model store with every built service's small model published; returns uri and names.

    BROWSER_TEST_STORE=/path/to/store reuses a file store that already holds models (for quick
    iterations on the UI); its services are the ones with a LATEST.
    """
    from services.common.store import ModelStore

    reuse = os.environ.get("BROWSER_TEST_STORE")
    if reuse:
        names = [p.parent.name for p in sorted(Path(reuse).glob("*/LATEST"))]
        return {"uri": Path(reuse).resolve().as_uri(), "root": Path(reuse), "services": names}
    sales_artifact = request.getfixturevalue("sales_artifact")
    root = tmp_path_factory.mktemp("ui-store")
    store = ModelStore((root / "store").as_uri(), root / "publish-cache")
    store.publish("sales", sales_artifact)
    mounted = ["sales"]
    for name in ("forecast", "demand", "flow", "powerball"):
        if not service_built(name):
            continue
        out = tmp_path_factory.mktemp(f"{name}-train") / "artifact"
        _train_small(name, out)
        store.publish(name, out)
        mounted.append(name)
    return {"uri": (root / "store").as_uri(), "root": root, "services": mounted}


class LiveServer:
    def __init__(self, app, port: int):
        from werkzeug.serving import make_server

        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.server = make_server("127.0.0.1", port, app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, name="ui-gateway", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)


@pytest.fixture(scope="session")
def gateway(ui_store, tmp_path_factory):
    """The local gateway (every service with a model, the UI at /) on a free port, models loaded."""
    from services.gateway import create_app

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    tmp = tmp_path_factory.mktemp("ui-gateway")
    saved = os.environ.get("FLOW_SQLITE_PATH")
    os.environ["FLOW_SQLITE_PATH"] = str(tmp / "flow-state.sqlite3")  # gate state of this test session only
    settings = make_settings(ui_store["uri"], tmp, model_refresh_seconds=0)
    app = create_app(settings, services=ui_store["services"])
    server = LiveServer(app, free_port())
    server.start()
    deadline = time.monotonic() + 60
    for name in ui_store["services"]:
        while True:
            resp = requests.get(f"{server.url}/api/{name}/ready", timeout=5)
            if resp.status_code == 200:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} not ready: {resp.text}")
            time.sleep(0.2)
    server.services = ui_store["services"]
    yield server
    server.stop()
    if saved is None:
        os.environ.pop("FLOW_SQLITE_PATH", None)
    else:
        os.environ["FLOW_SQLITE_PATH"] = saved


# ------------------------------------------------------------------ browser

@pytest.fixture(scope="session")
def browser():
    executable = chromium_executable()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, gateway):
    """A fresh page on the gateway; any JavaScript error or failed script load fails the test."""
    context = browser.new_context(viewport={"width": 1366, "height": 900}, base_url=gateway.url)
    page = context.new_page()
    page.set_default_timeout(15_000)
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}")
            if msg.type == "error" and "status of 4" not in msg.text and "status of 5" not in msg.text else None)
    yield page
    context.close()
    assert not problems, "JavaScript problems in the page:\n" + "\n".join(problems)


def screenshot(page, name: str) -> Path:
    """Save a screenshot of what a test saw under test-artifacts/ (git-ignored).

    These come from the tests' small models, so they never replace docs/screenshots/: those are made
    by `make screenshots` (scripts/screenshots.py) from the models `make run` trains."""
    if os.environ.get("UPDATE_SCREENSHOTS"):
        pytest.fail("UPDATE_SCREENSHOTS is gone: the tests' small models must not end up in the docs; "
                    "docs/screenshots/ come from `make screenshots` (full models)", pytrace=False)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def require_service(gateway, name: str) -> None:
    """Skip, loudly, a view test whose service is not built in this tree yet."""
    if name not in gateway.services:
        pytest.skip(f"VIEW NOT VERIFIED: services/{name} is not built in this tree (no services.{name}.api), "
                    f"so the {name} view can only show 'service not available' (checked in test_shell.py)")
