"""Shared fixtures: a moto S3 server on 127.0.0.1, model stores, small trained artifacts (one
version per service, trained once per session with --small: small_models)."""
from __future__ import annotations

import importlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def pytest_configure(config):
    """Every app the tests build (in-process or under gunicorn) checks each response against its
    documented schema: a view that drifts from openapi.json fails the test that called it."""
    os.environ.setdefault("VALIDATE_RESPONSES", "1")
    # Monitoring counts of the apps tests build go to a folder of this session, never the tree's var/.
    os.environ.setdefault("MONITORING_SQLITE_DIR", tempfile.mkdtemp(prefix="monitoring-tests-"))
    os.environ.setdefault("MONITORING_EMF_SECONDS", "0")   # no metric lines from the apps tests build (unless asked)
    # Write routes need a key: every app the tests build reads its service's key from this session's folder;
    # tests send it with write_headers(service). AUTH_DISABLED never set here (tests/common/test_auth.py).
    if not os.environ.get("API_KEYS_DIR"):
        os.environ["API_KEYS_DIR"] = tempfile.mkdtemp(prefix="api-keys-tests-")
    from services.common.auth import ensure_keys
    from services.common.registry import load_registry
    ensure_keys(Path(os.environ["API_KEYS_DIR"]), [s.name for s in load_registry().services] + ["toy"])


def write_headers(service: str) -> dict[str, str]:
    """The header a client of a write route sends: this session's key for `service`."""
    from services.common.auth import read_key
    return {"Authorization": f"Bearer {read_key(Path(os.environ['API_KEYS_DIR']), service)}"}


def pytest_collection_modifyitems(config, items):
    """`make test` runs two pytest workers (-n 2 --dist loadgroup): each folder of tests/ (and each
    file at its top) is one group, kept on one worker, so a folder's session fixtures (the images
    of tests/containers, the browser's servers, a service's trained models) are made once. tests/infra
    has module fixtures only: its files are groups of their own, so the apply tier runs beside the rest;
    so are the docs checks (tests/<service>/test_docs.py: full trainings in subprocesses, no folder
    fixture), so minutes of training do not lengthen their folder's turn on one worker."""
    tests = ROOT / "tests"
    for item in items:
        parts = Path(item.path).relative_to(tests).parts
        own = parts[0] == "infra" or parts[-1] == "test_docs.py"
        group = parts[0] if len(parts) > 1 and not own else "/".join(parts)
        item.add_marker(pytest.mark.xdist_group(group))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


class MotoServer:
    """A real S3 endpoint (moto server) in its own process; can be stopped and restarted."""

    def __init__(self, port: int):
        self.port = port
        self.endpoint = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None


@pytest.fixture(scope="session")
def aws_env():
    """Fake credentials so boto3 never looks for real ones."""
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")}
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def moto_server(aws_env):
    server = MotoServer(free_port())
    server.start()
    previous = os.environ.get("AWS_ENDPOINT_URL")
    os.environ["AWS_ENDPOINT_URL"] = server.endpoint
    yield server
    server.stop()
    if previous is None:
        os.environ.pop("AWS_ENDPOINT_URL", None)
    else:
        os.environ["AWS_ENDPOINT_URL"] = previous


@pytest.fixture
def s3_store_uri(moto_server) -> str:
    import boto3

    bucket = f"models-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=moto_server.endpoint).create_bucket(Bucket=bucket)
    return f"s3://{bucket}/models"


@pytest.fixture
def file_store_uri(tmp_path) -> str:
    return (tmp_path / "store").as_uri()


@pytest.fixture(params=["file", "s3"])
def store_uri(request) -> str:
    """Every store test runs against file:// and against the S3 endpoint."""
    return request.getfixturevalue(f"{request.param}_store_uri")


def make_settings(store_uri: str, tmp_path: Path, **overrides):
    from services.common.config import load_settings

    return load_settings(model_store_uri=store_uri, model_cache_dir=tmp_path / "cache", **overrides)


@pytest.fixture(scope="session")
def sales_artifact(tmp_path_factory) -> Path:
    """A real sales version folder trained on two stores (fast), not published."""
    out = tmp_path_factory.mktemp("sales-artifact")
    from services.sales import train

    train.main(["--stores", "1,2", "--no-publish", "--quiet", "--output", str(out)])
    return out


class GunicornServer:
    """A service (or the gateway) under the production gunicorn configuration, on 127.0.0.1."""

    def __init__(self, app_spec: str, env: dict[str, str], workers: int = 2):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.app_spec = app_spec
        self.env = {**os.environ, **env, "HOST": "127.0.0.1", "PORT": str(self.port),
                    "WEB_CONCURRENCY": str(workers)}
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "GunicornServer":
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        self.log = open(Path(self.env.get("TMPDIR", "/tmp")) / f"gunicorn-{self.port}.log", "w")
        self.proc = subprocess.Popen([gunicorn, "-c", str(ROOT / "services/common/gunicorn_conf.py"), self.app_spec],
                                     cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        wait_for_port(self.port, timeout=60)
        return self

    def wait_ready(self, path: str, timeout: float = 60) -> None:
        import requests

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + path, timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{path} not ready after {timeout}s")

    def __exit__(self, *exc) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()


class SmallModels:
    """Trains each service's `--small` slice the first time a test asks for it (once per session:
    the reliability and container tiers share it)."""

    def __init__(self, tmp: Path):
        from services.common.store import ModelStore

        self.tmp = tmp
        self.uri = (tmp / "store").as_uri()
        self.store = ModelStore(self.uri, tmp / "cache")
        self._apps: dict = {}

    def publish(self, name: str) -> str:
        if not self.store.has_latest(name):
            out = self.tmp / f"build-{name}"
            # demand's pipeline loads a warehouse: keep it in this session's folder, not var/
            saved = os.environ.get("DATABASE_URL")
            os.environ["DATABASE_URL"] = f"sqlite:///{self.tmp / 'warehouse.db'}"
            try:
                importlib.import_module(f"services.{name}.train").main(
                    ["--small", "--no-publish", "--quiet", "--output", str(out)])
            finally:
                if saved is None:
                    os.environ.pop("DATABASE_URL", None)
                else:
                    os.environ["DATABASE_URL"] = saved
            self.store.publish(name, out)
        return self.store.latest_version(name)

    def folder(self, name: str) -> Path:
        """The built version folder of `name` (trained first if needed), to publish elsewhere."""
        self.publish(name)
        return self.tmp / f"build-{name}"

    def app(self, name: str):
        if name not in self._apps:
            self.publish(name)
            module = importlib.import_module(f"services.{name}.api")
            app = module.create_app(make_settings(self.uri, self.tmp / f"run-{name}"), start_model_refresh=False)
            assert app.extensions["model_holder"].refresh(), f"{name}: model did not load"
            self._apps[name] = app
        return self._apps[name]


@pytest.fixture(scope="session")
def small_models(tmp_path_factory) -> SmallModels:
    return SmallModels(tmp_path_factory.mktemp("small-models"))
