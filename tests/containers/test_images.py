"""Every service image, built by scripts/build_images.sh and run as its Terraform task definition
says (user, read-only root, volumes, environment, port; see fargate.py for what is emulated),
with its model fetched from a moto S3 bucket: ready, one real prediction, one refused request,
SIGTERM within gunicorn's graceful timeout, and not one error or warning in the log. Then what
each image holds, and every training image trained for real (--small)."""
from __future__ import annotations

import ast
import json
import re
import urllib.error
import urllib.request

import pytest

from bench.targets import TARGETS
from services.common.registry import load_registry
from tests.test_serving_imports import FORBIDDEN, STDLIB_PICKLERS, dependency_sets

from . import fargate
from .conftest import REPOSITORY_BASE, SERVICES, TAG, TIER_KEYS, aws_env

pytestmark = pytest.mark.slow

ROOT = fargate.ROOT
# What a clean start must not log: errors, tracebacks, warnings (gunicorn's [LEVEL] lines, our JSON
# lines; the request log's WARNING for the 503s /ready answers while the model loads is expected),
# onnxruntime's own warnings and refused writes.
BAD_TEXT = re.compile(r"\[(WARNING|ERROR|CRITICAL)\]|Traceback|\[[WEF]:onnxruntime|Read-only file system|"
                      r"Permission denied")


def bad_log_lines(log: str) -> list[str]:
    bad = []
    for line in log.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if isinstance(record, dict) and "level" in record:
            if record["level"] in ("ERROR", "CRITICAL") or (
                    record["level"] == "WARNING" and record.get("logger") != "services.http"):
                bad.append(line)
        elif BAD_TEXT.search(line):
            bad.append(line)
    return bad


def gunicorn_setting(name: str):
    """A literal setting of services/common/gunicorn_conf.py, read without running it."""
    tree = ast.parse((ROOT / "services/common/gunicorn_conf.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise KeyError(name)


def request(url: str, method: str = "GET", body=None, headers: dict | None = None) -> tuple[int, str, object]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={**({"Content-Type": "application/json"} if data else {}), **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            status, ctype, raw = resp.status, resp.headers.get("Content-Type", ""), resp.read()
    except urllib.error.HTTPError as err:
        status, ctype, raw = err.code, err.headers.get("Content-Type", ""), err.read()
    return status, ctype, json.loads(raw) if ctype.startswith("application/json") else raw.decode(errors="replace")


def broken(endpoint) -> tuple[str, str, dict | None, str]:
    """The main request with its first field given a value no schema accepts: (method, path, body, field)."""
    if endpoint.body:
        field = next(iter(endpoint.body))
        return endpoint.method, endpoint.path, {**endpoint.body, field: {"not": ["a", "valid", "value"]}}, field
    path, _, query = endpoint.path.partition("?")
    field = query.split("=", 1)[0]
    return endpoint.method, f"{path}?{field}=%00not-a-valid-value%00", None, field


# --------------------------------------------------------------------------
# the task definitions and the images agree
# --------------------------------------------------------------------------
@pytest.mark.parametrize("service", SERVICES)
def test_task_definition_matches_the_registry_and_the_image(service, task_definitions, serving_images):
    td = task_definitions[service]
    entry = load_registry().get(service)
    config = fargate.image_config(serving_images[service])
    assert td.port == entry.port == int(td.environment["PORT"])
    assert f"{entry.port}/tcp" in config["ExposedPorts"]
    assert td.container["user"] == config["User"], "the task runs as the image's user"
    assert td.container["user"].split(":")[0] not in ("0", "root")
    assert td.container["readonlyRootFilesystem"] is True
    assert td.container.get("privileged") is False
    mounts = {m["containerPath"] for m in td.container["mountPoints"]}
    assert mounts == set(config["Volumes"]), "every writable path of the task is a VOLUME the image owns, and back"
    assert (td.cpu, td.memory) == (entry.cpu, entry.memory)
    assert gunicorn_setting("graceful_timeout") < td.container["stopTimeout"], \
        "ECS kills the container after stopTimeout: gunicorn must finish its graceful shutdown before"


# --------------------------------------------------------------------------
# each service as Fargate runs it
# --------------------------------------------------------------------------
@pytest.mark.parametrize("service", SERVICES)
def test_service_serves_and_stops_as_its_task_definition_runs_it(service, task_definitions, serving_images,
                                                                  published, tier_moto, monkeypatch):
    version = published(service)
    monkeypatch.setenv("FLOW_API_KEY", TIER_KEYS["flow"])   # bench/targets' flow state goes in with the task's key
    td = task_definitions[service]
    entry = load_registry().get(service)
    with fargate.Task(serving_images[service], td, tier_moto.endpoint) as task:
        seconds = task.wait_ready(entry.health_path, timeout=120)  # one worker has its model
        # /ready answers per worker and never waits; /model waits for the worker's first load.
        status, _, model = request(f"{task.url}/api/{service}/model")
        assert status == 200 and version in json.dumps(model), model

        base = f"{task.url}/api/{service}"
        endpoints = [e for e in TARGETS[service].endpoints(task.url) if e.main]
        assert endpoints, f"bench/targets.py has no main request for {service}"
        for endpoint in endpoints:
            status, ctype, body = request(base + endpoint.path, endpoint.method, endpoint.body)
            assert status == 200 and ctype.startswith("application/json"), (endpoint.label, status, body)
            assert body and body.get("model_version", version) == version, body

        method, path, bad_body, field = broken(endpoints[0])
        status, ctype, body = request(base + path, method, bad_body)
        assert 400 <= status < 500 and ctype.startswith("application/json"), (status, body)
        assert field in json.dumps(body["error"]), f"the refusal should name {field!r}: {body}"

        # the write route takes the key ECS injected from the service's secret (API_KEYS), and only it
        write = f"{base}/ingest" if service == "flow" else f"{base}/actuals"
        status, _, body = request(write, "POST", {})
        assert status == 401 and body["error"]["code"] == "unauthorized", (status, body)
        status, _, body = request(write, "POST", {}, {"Authorization": f"Bearer {TIER_KEYS[service]}"})
        assert status == 400, (status, body)          # past the key check: the empty body is refused
        other = next(s for s in SERVICES if s != service)
        status, _, body = request(write, "POST", {}, {"Authorization": f"Bearer {TIER_KEYS[other]}"})
        assert status == 403, (status, body)

        graceful = gunicorn_setting("graceful_timeout")
        task.signal("TERM")
        code = task.wait_exit(timeout=graceful)
        log = task.logs()
        assert code == 0, f"not stopped with status 0 within gunicorn's {graceful}s graceful timeout ({code}):\n{log[-3000:]}"
        assert bad_log_lines(log) == []
        assert "Shutting down: Master" in log
    print(f"{service}: podman run to {entry.health_path} 200 in {seconds:.2f}s")


# --------------------------------------------------------------------------
# what an image holds
# --------------------------------------------------------------------------
PROBE = r"""
import importlib, importlib.metadata as md, json, re, sys
importlib.import_module(sys.argv[1])
print(json.dumps({"dists": sorted({re.sub(r"[-_.]+", "-", d.metadata["Name"]).lower() for d in md.distributions()}),
                  "modules": sorted(m.split(".")[0] for m in sys.modules)}))
"""


@pytest.mark.parametrize("service", SERVICES)
def test_serving_image_holds_serving_dependencies_only(service, serving_images):
    out = fargate.podman("run", "--rm", "--pull=never", "--no-healthcheck", *fargate.ULIMITS, "--network=none",
                         "--read-only", serving_images[service], "python", "-c", PROBE, f"services.{service}.api")
    found = json.loads(out.stdout.splitlines()[-1])
    serving, training_only = dependency_sets()
    assert not set(found["dists"]) & training_only
    assert not {"pandas", "scipy", "statsmodels", "scikit-learn", "xgboost-cpu", "lightgbm"} & set(found["dists"])
    # What the base image brings (pip, setuptools) and the serving closure: nothing else.
    assert set(found["dists"]) - serving <= {"pip", "setuptools", "wheel"}, set(found["dists"]) - serving
    assert not set(found["modules"]) & (FORBIDDEN - STDLIB_PICKLERS)
    listing = fargate.podman("run", "--rm", "--pull=never", "--no-healthcheck", *fargate.ULIMITS, "--network=none",
                             "--entrypoint", "ls", serving_images[service], "/app/services").stdout.split()
    assert sorted(listing) == sorted(["__init__.py", "__pycache__", "registry.json", "common", service]), listing


# --------------------------------------------------------------------------
# the training image
# --------------------------------------------------------------------------
@pytest.fixture(scope="session")
def training_images(tier_tools, build_log) -> dict[str, str]:
    built = fargate.build_images(SERVICES, REPOSITORY_BASE, TAG, train=True, log=build_log)
    trains = [i for i in built if i.endswith("-train")]
    assert trains == [f"{REPOSITORY_BASE}/{s}:{TAG}-train" for s in SERVICES]
    return dict(zip(SERVICES, trains))


@pytest.mark.parametrize("service", SERVICES)
def test_training_image_trains_small_and_publishes_to_s3(service, training_images, task_definitions, tier_moto,
                                                         tmp_path):
    """What scheduled retraining on ECS runs: python -m services.<svc>.train, here --small, with the
    serving task's user, read-only root and volumes, publishing to its own prefix of the bucket."""
    from services.common.store import ModelStore

    td = task_definitions[service]
    store_uri = td.environment["MODEL_STORE_URI"].rsplit("/", 1)[0] + "/tier-training"
    task = fargate.Task(training_images[service], td, tier_moto.endpoint, detach=False,
                        extra_env={"MODEL_STORE_URI": store_uri},
                        command=["python", "-m", f"services.{service}.train", "--small", "--quiet"])
    out = task.run(timeout=900)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    with aws_env(tier_moto.endpoint):
        store = ModelStore(store_uri, tmp_path / "cache")
        version = store.latest_version(service)  # LATEST, written last
        folder, manifest = store.fetch(service, version)  # every file there and sha256-verified
    assert f"published {service} {version}" in out.stdout + out.stderr
    assert manifest["service"] == service and manifest["version"] == version
    assert manifest["files"] and set(manifest["files"]) <= {p.name for p in folder.iterdir()}
