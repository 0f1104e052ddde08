"""Keep-alive against the load balancer: gunicorn keeps idle connections longer than the ALB does, and a
client sending its headers slowly is still cut off soon.

The ALB reuses an idle connection to a target for up to its idle timeout; were gunicorn to close it
first, a request the ALB sends as it closes is answered 502 (sporadic 502s in AWS).
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from services.common.store import ModelStore
from services.common.workers import DEFAULT_HEADER_TIMEOUT
from tests.conftest import GunicornServer
from tests.infra import hcl

ROOT = Path(__file__).resolve().parents[2]


def gunicorn_setting(name: str, env: dict[str, str] | None = None):
    """A value of services/common/gunicorn_conf.py as gunicorn reads it (in its own process: the file sets
    PROMETHEUS_MULTIPROC_DIR), with the variables that would override it removed."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GUNICORN_")}
    code = f"import runpy; print(runpy.run_path('services/common/gunicorn_conf.py')[{name!r}])"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**clean, **(env or {})}, capture_output=True,
                         text=True, check=True, timeout=60)
    return out.stdout.strip()


def test_gunicorn_outlasts_the_alb_idle_timeout_and_bounds_headers_apart():
    idle_timeout = int(hcl.resources("alb")["aws_lb.this"]["idle_timeout"])
    keepalive = int(gunicorn_setting("keepalive"))
    # AWS: the target's keep-alive must exceed the load balancer's idle timeout; a few seconds of margin
    # cover the two clocks starting at different moments.
    assert keepalive >= idle_timeout + 10, (keepalive, idle_timeout)
    assert 0 < DEFAULT_HEADER_TIMEOUT <= 15 < keepalive  # a slow-header client gets seconds, not the idle time
    assert gunicorn_setting("worker_class") == "services.common.workers.JsonErrorGeventWorker"


def _request(path: str = "/api/sales/health") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode()


def _read_response(sock: socket.socket) -> bytes:
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            return buf
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
    while len(body) < length:
        body += sock.recv(65536)
    return head


def _closed_after(sock: socket.socket, limit: float, trickle: bytes = b"") -> float | None:
    """Seconds until the server closes `sock` (sending `trickle` every 0.3 s meanwhile), or None after `limit`."""
    started = time.monotonic()
    sock.settimeout(0.3)
    while time.monotonic() - started < limit:
        try:
            if trickle:
                sock.sendall(trickle)
            if sock.recv(1024) == b"":
                return time.monotonic() - started
        except socket.timeout:
            continue
        except OSError:
            return time.monotonic() - started
    return None


@pytest.mark.slow
def test_idle_connections_outlive_the_header_bound(sales_artifact, tmp_path):
    """Scaled down (keepalive 4 s, header bound 1.5 s): an idle keep-alive connection is still served after
    longer than the header bound and closed once keepalive passes; a client trickling its headers is cut
    off after the header bound, long before keepalive."""
    store_uri = (tmp_path / "store").as_uri()
    ModelStore(store_uri, tmp_path / "cache").publish("sales", sales_artifact)
    env = {"MODEL_STORE_URI": store_uri, "MODEL_CACHE_DIR": str(tmp_path / "srv-cache"), "TMPDIR": str(tmp_path),
           "GUNICORN_KEEPALIVE": "4", "GUNICORN_HEADER_TIMEOUT": "1.5"}
    with GunicornServer("services.sales.api:create_app()", env) as server:
        server.wait_ready("/api/sales/ready")

        idle = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        idle.sendall(_request())
        assert b" 200 " in _read_response(idle).split(b"\r\n")[0]
        time.sleep(2.5)  # idle for longer than the header bound
        idle.sendall(_request())
        assert b" 200 " in _read_response(idle).split(b"\r\n")[0], "an idle connection was closed before keepalive"
        closed = _closed_after(idle, 10)
        idle.close()
        assert closed is not None and 3.0 < closed < 7.0, f"idle connection closed after {closed} s (keepalive 4 s)"

        slow = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        slow.sendall(b"GET /api/sales/health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        closed = _closed_after(slow, 10, trickle=b"a")
        slow.close()
        assert closed is not None and closed < 3.5, f"a slow-header client was held {closed} s (header bound 1.5 s)"

        # A head that has started but stalls completely is cut off the same way.
        stalled = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        stalled.sendall(b"GET /api/sales/health HTTP/1.1\r\n")
        closed = _closed_after(stalled, 10)
        stalled.close()
        assert closed is not None and closed < 3.5, f"a stalled head was held {closed} s (header bound 1.5 s)"

        fresh = socket.create_connection(("127.0.0.1", server.port), timeout=5)  # the workers still answer
        fresh.sendall(_request("/api/sales/ready"))
        assert b" 200 " in _read_response(fresh).split(b"\r\n")[0]
        fresh.close()
