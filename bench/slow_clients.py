"""Worker models under slow and idle clients: what chose gevent (docs/architecture.md).

    python -m bench.slow_clients [--held 50] [--seconds 20] [sync gthread8 gthread64 gevent]

For each worker model: sales under the production gunicorn configuration (2 workers, the model in
var/models), `--held` connections held open (half send a request's headers one byte every 0.5 s,
half send nothing; each is reopened when the server closes it), and 2 clients sending
POST /api/sales/predict for `--seconds`. Prints one JSON line per model: answered, failed, p50 and
p99 latency. Only 127.0.0.1; bounded in time.
"""
from __future__ import annotations

import argparse
import json
import socket
import threading
import time
from pathlib import Path

import requests

from .servers import ROOT, Gunicorn
from .targets import TARGETS

VARIANTS = {
    "sync": {"GUNICORN_CMD_ARGS": "--worker-class sync"},
    "gthread8": {"GUNICORN_CMD_ARGS": "--worker-class gthread --threads 8"},
    "gthread64": {"GUNICORN_CMD_ARGS": "--worker-class gthread --threads 64"},
    "gevent": {},  # the configured worker (services.common.workers.JsonErrorGeventWorker)
}


def hold(port: int, stop: threading.Event, trickle: bool, opened: list) -> None:
    while not stop.is_set():
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=2)
        except OSError:
            time.sleep(0.2)
            continue
        opened.append(1)
        try:
            if trickle:
                sock.sendall(b"POST /api/sales/predict HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            sock.settimeout(0.5)
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


def measure(name: str, held: int, seconds: float, work: Path) -> dict:
    body = next(ep.body for ep in TARGETS["sales"].endpoints("") if ep.main)
    env = {"MODEL_STORE_URI": (ROOT / "var" / "models").as_uri(), "MODEL_CACHE_DIR": str(work / f"cache-{name}"),
           **VARIANTS[name]}
    with Gunicorn("services.sales.api:create_app()", env, log_dir=work) as srv:
        srv.wait_ready("/api/sales/ready")
        stop, opened = threading.Event(), []
        holders = [threading.Thread(target=hold, args=(srv.port, stop, i % 2 == 0, opened), daemon=True)
                   for i in range(held)]
        for t in holders:
            t.start()
        time.sleep(2)
        latencies, failed = [], []

        def client() -> None:
            session = requests.Session()
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                started = time.perf_counter()
                try:
                    ok = session.post(srv.url + "/api/sales/predict", json=body, timeout=5).status_code == 200
                except requests.RequestException:
                    ok, session = False, requests.Session()
                latencies.append(time.perf_counter() - started)
                if not ok:
                    failed.append(1)
                time.sleep(0.02)

        clients = [threading.Thread(target=client) for _ in range(2)]
        for t in clients:
            t.start()
        for t in clients:
            t.join()
        stop.set()
        latencies.sort()
        pick = lambda q: round(1000 * latencies[max(0, int(len(latencies) * q) - 1)], 1)  # noqa: E731
        return {"worker": name, "held": held, "answered": len(latencies) - len(failed), "failed": len(failed),
                "p50_ms": pick(0.5), "p99_ms": pick(0.99), "connections_opened": len(opened),
                "worker_rss_mb": [round(r, 1) for r in srv.worker_rss_mb()]}


def main(argv: list[str] | None = None) -> None:
    import os
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workers", nargs="*", default=list(VARIANTS), help=", ".join(VARIANTS))
    parser.add_argument("--held", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args(argv)
    unknown = set(args.workers) - set(VARIANTS)
    if unknown:
        parser.error(f"unknown worker {', '.join(sorted(unknown))}; choose from {', '.join(VARIANTS)}")
    work = Path(tempfile.mkdtemp(prefix="bench-slow-"))
    print(json.dumps({"load_average": [round(x, 2) for x in os.getloadavg()]}), flush=True)
    for name in args.workers:
        print(json.dumps(measure(name, args.held, args.seconds, work)), flush=True)


if __name__ == "__main__":
    main()
