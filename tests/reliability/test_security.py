"""Security promises: no secrets in the tree, no debug mode in production configuration."""
from __future__ import annotations

import hashlib
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from services.gateway import built_services
from tests.conftest import make_settings

ROOT = Path(__file__).resolve().parents[2]


def vendored_files() -> dict[str, str]:
    """Third-party browser bundles (scripts/vendor_frontend.sh): path -> the sha256 VERSIONS.txt pins."""
    pinned = {}
    for versions in [ROOT / "frontend/vendor/VERSIONS.txt", ROOT / "services/common/docs/VERSIONS.txt"]:
        for line in versions.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                name, _package, _version, sha = line.split()[:4]
                pinned[str((versions.parent / name).relative_to(ROOT))] = sha
    return pinned


def test_detect_secrets_finds_nothing_in_tracked_files():
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    assert files, "not a git checkout"
    # Minified third-party bundles trip the keyword heuristics (a password input, "key:" parameters);
    # they are not scanned, but each must be byte for byte the npm file its VERSIONS.txt pins.
    vendored = vendored_files()
    for name, sha in vendored.items():
        assert hashlib.sha256((ROOT / name).read_bytes()).hexdigest() == sha, f"{name} differs from VERSIONS.txt"
    files = [f for f in files if f not in vendored]
    scanner = Path(sys.executable).parent / "detect-secrets"
    out = subprocess.run([str(scanner), "scan", *files], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    results = json.loads(out.stdout)["results"]
    assert results == {}, {name: [r["line_number"] for r in found] for name, found in results.items()}


@pytest.mark.parametrize("service", built_services())
def test_no_debug_mode_in_production_configuration(service, tmp_path, monkeypatch):
    monkeypatch.setenv("FLASK_DEBUG", "1")  # what a careless environment might set
    module = importlib.import_module(f"services.{service}.api")
    app = module.create_app(make_settings(tmp_path.as_uri(), tmp_path), start_model_refresh=False)
    assert app.debug is False and app.testing is False
    resp = app.test_client().get(f"/api/{service}/no-such-route")
    assert resp.is_json and b"Traceback" not in resp.data


def test_gunicorn_configuration_has_no_reload_or_debug():
    text = (ROOT / "services/common/gunicorn_conf.py").read_text()
    assert "reload" not in text and "debug" not in text.lower()
