"""scripts/build_and_push_ecr.sh for real: built with podman, pushed to a real OCI registry on
127.0.0.1 (Debian's docker-registry, the CNCF distribution registry), pulled back and compared by
digest; then the immutable-tag rule: a second build of other contents at the same commit gets
another tag, and a tag already holding other contents is refused, never silently kept.

Not exercised here: the ECR login (`aws ecr get-login-password`, see tests/infra/test_scripts.py
for the command it runs) and ECR's own tag immutability; the registry is plain HTTP (--insecure).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from . import fargate
from .conftest import unavailable

pytestmark = pytest.mark.slow

ROOT = fargate.ROOT
SERVICE = "forecast"
NAMESPACE = "mlplat-test"


@pytest.fixture(scope="module")
def registry(tier_tools, tmp_path_factory):
    """docker-registry on a free loopback port with its storage in a temp folder; its host:port."""
    binary = shutil.which("docker-registry")
    if binary is None:
        unavailable("IMAGE TIER: docker-registry is not installed (apt-get install docker-registry)")
    work = tmp_path_factory.mktemp("registry")
    port = fargate.free_port()
    config = work / "config.yml"
    config.write_text(json.dumps({  # YAML is a superset of JSON
        "version": 0.1,
        "log": {"level": "warn", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(work / "data")}},
        "http": {"addr": f"127.0.0.1:{port}"},
    }))
    with open(work / "registry.log", "wb") as log:
        proc = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    host = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://{host}/v2/", timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"docker-registry did not start: {(work / 'registry.log').read_text()[-2000:]}")
                time.sleep(0.2)
        yield host
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        # The images the pushes tagged <host>/...: this registry is gone, and so are they.
        refs = [r for r in fargate.podman("images", "--format", "{{.Repository}}:{{.Tag}}", check=False).stdout.split()
                if r.startswith(f"{host}/")]
        if refs:
            fargate.podman("rmi", "--force", *refs, check=False)


def push(repo: Path, registry: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["CONTAINER_ENGINE"] = "podman"
    return subprocess.run(["bash", str(repo / "scripts" / "build_and_push_ecr.sh"), "--repository-base",
                           f"{registry}/{NAMESPACE}", "--insecure", "--no-train", *args, SERVICE],
                          cwd=repo, env=env, capture_output=True, text=True, timeout=1200)


def manifest_digest(registry: str, tag: str) -> str:
    req = urllib.request.Request(f"http://{registry}/v2/{NAMESPACE}/{SERVICE}/manifests/{tag}", method="HEAD",
                                 headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json, "
                                                    "application/vnd.oci.image.manifest.v1+json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.headers["Docker-Content-Digest"]


def tags(registry: str) -> list[str]:
    with urllib.request.urlopen(f"http://{registry}/v2/{NAMESPACE}/{SERVICE}/tags/list", timeout=10) as resp:
        return sorted(json.loads(resp.read())["tags"])


def test_push_then_pull_gives_the_same_image(registry):
    result = push(ROOT, registry)
    assert result.returncode == 0, result.stderr[-4000:]
    tag = result.stdout.split()[-1]
    ref = f"{registry}/{NAMESPACE}/{SERVICE}:{tag}"
    assert tags(registry) == [tag]
    built_id = fargate.podman("image", "inspect", "--format", "{{.Id}}", ref).stdout.strip()

    # Pulled into an empty, separate storage, so every layer comes back from the registry.
    store = Path(tempfile.mkdtemp(prefix="pull-", dir="/var/tmp"))  # podman wants a short runroot path
    other = ["--root", str(store / "root"), "--runroot", str(store / "run"), "--storage-driver", "overlay"]
    try:
        fargate.podman(*other, "pull", "--tls-verify=false", "--quiet", ref, timeout=900)
        (pulled,) = json.loads(fargate.podman(*other, "image", "inspect", ref).stdout)
    finally:
        fargate.podman(*other, "rmi", "--all", "--force", check=False)
        shutil.rmtree(store, ignore_errors=True)
    assert pulled["Id"] == built_id, "the pulled image's config digest is the built one's: same contents"
    assert pulled["Digest"] == manifest_digest(registry, tag), "the pulled manifest is the registry's"

    again = push(ROOT, registry)  # same sources, same tag: nothing to build or push
    assert again.returncode == 0, again.stderr[-4000:]
    assert again.stdout.split()[-1] == tag and "nothing to push" in again.stderr
    assert manifest_digest(registry, tag) == pulled["Digest"]


def test_other_contents_at_the_same_commit_never_reuse_a_tag(registry, tmp_path):
    """The bug this replaces: a second "-dirty" build at one commit was skipped as "already pushed"."""
    repo = tmp_path / "repo"
    repo.mkdir()
    for path in ("Dockerfile", ".dockerignore", ".gitignore", "pyproject.toml", "services", "data", "scripts"):
        copy = shutil.copytree if (ROOT / path).is_dir() else shutil.copy2
        copy(ROOT / path, repo / path, **({"ignore": shutil.ignore_patterns("__pycache__")} if copy is shutil.copytree else {}))
    git = ["git", "-C", str(repo), "-c", "user.name=tier", "-c", "user.email=tier@example.invalid"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "sources"], check=True)
    api = repo / "services" / SERVICE / "api.py"

    api.write_text(api.read_text() + "\n# first uncommitted change\n")
    first = push(repo, registry)
    assert first.returncode == 0, first.stderr[-4000:]
    first_tag = first.stdout.split()[-1]
    assert "-dirty-" in first_tag

    api.write_text(api.read_text() + "# second uncommitted change, same commit\n")
    second = push(repo, registry)
    assert second.returncode == 0, second.stderr[-4000:]
    second_tag = second.stdout.split()[-1]
    assert second_tag != first_tag and second_tag.split("-dirty-")[0] == first_tag.split("-dirty-")[0]
    assert {first_tag, second_tag} <= set(tags(registry))

    before = manifest_digest(registry, first_tag)
    refused = push(repo, registry, "--tag", first_tag)  # these contents under the first tag
    assert refused.returncode != 0
    assert "already exists with other contents" in refused.stderr and "never reused" in refused.stderr
    assert manifest_digest(registry, first_tag) == before, "the tag still names what it was pushed with"
