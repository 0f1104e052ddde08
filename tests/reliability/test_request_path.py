"""Faults on the request path, under the production gunicorn configuration on 127.0.0.1.

Each test reproduces a defect a fault probe once found (issue 20) and fails if it comes back:
slow clients stalling the workers, chunked bodies walking around the size limit, gunicorn's HTML
error pages, and a hanging S3 endpoint holding up liveness.
"""
from __future__ import annotations

import json
import socket
import threading
import time

import pytest
import requests

from services.common.store import ModelStore
from tests.conftest import GunicornServer, free_port

pytestmark = pytest.mark.slow
PREDICT = {"Store": 1, "Date": "10-08-2012", "Holiday_Flag": 0, "Temperature": 85.05, "Fuel_Price": 3.494,
           "CPI": 221.96, "Unemployment": 6.908}


@pytest.fixture(scope="module")
def sales_server(sales_artifact, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("request-path")
    store_uri = (tmp / "store").as_uri()
    ModelStore(store_uri, tmp / "cache").publish("sales", sales_artifact)
    env = {"MODEL_STORE_URI": store_uri, "MODEL_CACHE_DIR": str(tmp / "srv-cache"), "TMPDIR": str(tmp)}
    with GunicornServer("services.sales.api:create_app()", env) as server:
        server.wait_ready("/api/sales/ready")
        yield server


def raw_request(port: int, data: bytes, timeout: float = 10) -> tuple[int, dict[str, str], bytes]:
    """Send bytes as they are (no client library tidying them) and parse the one response."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(65536)
            if not chunk:
                break
            buf += chunk
        head, _, body = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line)}
        length = int(headers.get("content-length", "0"))
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
    return int(lines[0].split()[1]), headers, body


def _slow_client(port: int, stop: threading.Event, trickle: bool, opened: list) -> None:
    """Hold a connection: send a request's headers one byte every 0.3 s (or nothing at all); reconnect
    whenever the server closes it, so 50 connections stay held for the whole test."""
    while not stop.is_set():
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=2)
        except OSError:
            time.sleep(0.1)
            continue
        opened.append(1)
        try:
            sock.settimeout(0.3)
            if trickle:
                sock.sendall(b"POST /api/sales/predict HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            while not stop.is_set():
                if trickle:
                    sock.sendall(b"a")
                try:
                    if sock.recv(1024) == b"":
                        break
                except socket.timeout:
                    pass
        except OSError:
            pass
        finally:
            sock.close()


def test_fifty_slow_clients_do_not_stall_normal_requests(sales_server):
    """With sync workers (or too few threads) 20 such clients answered 0 of 60 requests in 30 s."""
    stop = threading.Event()
    opened: list = []
    holders = [threading.Thread(target=_slow_client, args=(sales_server.port, stop, i % 2 == 0, opened), daemon=True)
               for i in range(50)]
    for t in holders:
        t.start()
    time.sleep(2.0)  # every slow connection is open before the measured requests start
    latencies, failures = [], []

    def normal() -> None:
        session = requests.Session()
        deadline = time.monotonic() + 12
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                ok = session.post(sales_server.url + "/api/sales/predict", json=PREDICT, timeout=5).status_code == 200
            except requests.RequestException:
                ok, session = False, requests.Session()
            latencies.append(time.perf_counter() - started)
            if not ok:
                failures.append(1)
            time.sleep(0.01)

    clients = [threading.Thread(target=normal) for _ in range(2)]
    try:
        for t in clients:
            t.start()
        for t in clients:
            t.join()
    finally:
        stop.set()
        for t in holders:
            t.join(timeout=5)
    latencies.sort()
    p99 = latencies[max(0, int(len(latencies) * 0.99) - 1)]
    assert len(opened) >= 50
    assert not failures, f"{len(failures)} of {len(latencies)} normal requests failed"
    assert len(latencies) >= 200, f"only {len(latencies)} normal requests answered in 12 s"
    assert p99 < 1.0, f"p99 {p99 * 1000:.0f} ms with 50 slow connections held"


def _chunks(data: bytes, size: int = 65536):
    for i in range(0, len(data), size):
        yield data[i:i + size]


@pytest.mark.parametrize("size", [1_500_000, 2_000_000])
def test_chunked_body_over_the_limit_is_413(sales_server, size):
    """Once 1.5 MB chunked was truncated silently and parsed, 2 MB answered invalid_json."""
    data = (json.dumps(PREDICT)[:-1] + " " * size + "}").encode()
    resp = requests.post(sales_server.url + "/api/sales/predict", data=_chunks(data),
                         headers={"Content-Type": "application/json"}, timeout=30)
    assert resp.status_code == 413 and resp.json()["error"]["code"] == "payload_too_large"
    assert "1048576 bytes" in resp.json()["error"]["details"][0]["problem"]
    small = requests.post(sales_server.url + "/api/sales/predict", data=_chunks(json.dumps(PREDICT).encode()),
                          headers={"Content-Type": "application/json"}, timeout=10)
    assert small.status_code == 200 and small.json()["model_version"]


@pytest.mark.parametrize("chunked", [b"ZZ\r\n{}\r\n0\r\n\r\n", b"5\r\n{\"a\":1}\r\n0\r\n\r\n", b"-1\r\n\r\n"])
def test_malformed_chunked_encoding_is_400_json(sales_server, chunked):
    """A bad chunk size once answered 500."""
    status, headers, body = raw_request(sales_server.port, b"POST /api/sales/predict HTTP/1.1\r\nHost: x\r\n"
                                        b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                                        + chunked)
    assert status == 400 and headers["content-type"] == "application/json"
    assert json.loads(body)["error"]["details"][0]["field"] == "body"


@pytest.mark.parametrize("request_bytes,status,field", [
    (b"GARBAGE\r\n\r\n", 400, "request"),
    (b"GET /api/sales/health?" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, "request line"),
    (b"GET /api/sales/health HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(120)) + b"\r\n",
     431, "headers"),
    (b"GET /api/sales/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n", 431, "headers"),
])
def test_gunicorn_refusals_are_json(sales_server, request_bytes, status, field):
    """gunicorn answers these itself, before the app; they were HTML pages."""
    got, headers, body = raw_request(sales_server.port, request_bytes)
    assert got == status and headers["content-type"] == "application/json", body[:200]
    error = json.loads(body)["error"]
    assert error["message"] and error["details"][0]["field"] == field


class HangingEndpoint:
    """A TCP server on 127.0.0.1 that accepts connections and never answers (an S3 endpoint gone wrong)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.held: list[socket.socket] = []
        self.stop = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
                self.held.append(conn)
            except OSError:
                continue

    def close(self) -> None:
        self.stop = True
        self.thread.join(timeout=2)
        for conn in self.held:
            conn.close()
        self.sock.close()


def test_liveness_never_waits_on_a_hanging_store(tmp_path, aws_env):
    """Such an endpoint kept /health from answering for 32 s at start; /ready said 'model not loaded yet'."""
    hang = HangingEndpoint()
    env = {"MODEL_STORE_URI": "s3://models/prod", "AWS_ENDPOINT_URL": hang.url, "TMPDIR": str(tmp_path),
           "MODEL_CACHE_DIR": str(tmp_path / "cache"), "MODEL_START_WAIT_SECONDS": "1"}
    try:
        with GunicornServer("services.sales.api:create_app()", env) as server:
            deadline = time.monotonic() + 30
            while True:  # the port is open; the workers are importing: /health as soon as a worker is up
                try:
                    health = requests.get(server.url + "/api/sales/health", timeout=1)
                    break
                except requests.RequestException:
                    assert time.monotonic() < deadline, "no /health answer within 30 s of the port opening"
                    time.sleep(0.1)
            assert health.status_code == 200
            deadline = time.monotonic() + 15  # the loader starts beside the worker: /health may come first
            while not hang.held:
                assert time.monotonic() < deadline, "the service never connected to the store endpoint"
                started = time.perf_counter()
                assert requests.get(server.url + "/api/sales/health", timeout=2).status_code == 200
                assert time.perf_counter() - started < 0.5
                time.sleep(0.1)
            for _ in range(5):  # every answer while the store hangs comes at once
                started = time.perf_counter()
                assert requests.get(server.url + "/api/sales/health", timeout=2).status_code == 200
                assert time.perf_counter() - started < 0.5
                time.sleep(0.2)
            ready = requests.get(server.url + "/api/sales/ready", timeout=2)
            assert ready.status_code == 503
            body = ready.json()
            assert body["store"] == "s3://models/prod" and "s3://models/prod" in body["reason"]
            assert "reading sales/LATEST for" in body["reason"]
            started = time.perf_counter()  # a prediction waits MODEL_START_WAIT_SECONDS, then says why
            predict = requests.post(server.url + "/api/sales/predict", json=PREDICT, timeout=10)
            assert predict.status_code == 503 and time.perf_counter() - started < 5
            assert "s3://models/prod" in predict.json()["error"]["message"]
            deadline = time.monotonic() + 60  # botocore gives up (read timeout) and /ready names the error
            while time.monotonic() < deadline:
                body = requests.get(server.url + "/api/sales/ready", timeout=2).json()
                if body["last_error"]:
                    break
                time.sleep(0.5)
            assert "cannot read LATEST" in body["last_error"] and "timeout" in body["last_error"].lower()
            assert body["last_error"] in body["reason"]
    finally:
        hang.close()
