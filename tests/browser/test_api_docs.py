"""GET /api/<svc>/docs: the service's own openapi.json rendered by the vendored, pinned RapiDoc."""
from __future__ import annotations

import hashlib

import pytest
import requests
from playwright.sync_api import expect

from .conftest import ROOT

pytestmark = [pytest.mark.browser, pytest.mark.slow]
VERSIONS = ROOT / "services/common/docs/VERSIONS.txt"


def test_the_viewer_is_the_vendored_pinned_file(gateway):
    file, package, version, sha, _ = next(line.split() for line in VERSIONS.read_text().splitlines()
                                          if not line.startswith("#"))
    assert (package, file) == ("rapidoc", "rapidoc-min.js")
    served = requests.get(f"{gateway.url}/api/sales/docs/{file}", timeout=10)
    assert served.status_code == 200 and hashlib.sha256(served.content).hexdigest() == sha, version


@pytest.mark.parametrize("service", ["sales", "forecast", "demand", "flow", "powerball"])
def test_docs_page_shows_every_operation_and_loads_nothing_from_elsewhere(page, gateway, service):
    if service not in gateway.services:
        pytest.skip(f"services/{service} is not built in this tree")
    elsewhere: list[str] = []
    page.on("request", lambda req: elsewhere.append(req.url)
            if not req.url.startswith((gateway.url, "data:")) else None)
    spec = requests.get(f"{gateway.url}/api/{service}/openapi.json", timeout=10).json()
    page.goto(f"/api/{service}/docs")
    for path, methods in spec["paths"].items():
        for op in methods.values():  # RapiDoc renders inside its shadow root; Playwright pierces it
            expect(page.get_by_text(op["summary"], exact=True).first).to_be_attached()
    expect(page.get_by_text(f"/api/{service}/predict" if "/api/" + service + "/predict" in spec["paths"]
                            else next(iter(spec["paths"])), exact=True).first).to_be_visible()
    assert not elsewhere, f"the docs page fetched from other hosts: {elsewhere}"
