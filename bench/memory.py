"""Monitoring under sustained load: flow worker RSS with 500-reading batches, /actuals at a fixed rate.

    flock /tmp/podman-tier.lock python -m bench.memory [--ingest-seconds 120] [--actuals-seconds 60] [--rate 200] [--write]

Trains small models into a temp folder (flow --small, sales on two stores, demand --quick), serves each
under the production gunicorn configuration (2 gevent workers), and prints the figures as markdown:
- flow: POST /ingest with 500 new readings per request from 4 connections, monitoring on and then off
  in the same run (MONITORING_BACKEND=sqlite / off), worker RSS sampled every 15 s, the drop counters;
- sales and demand: POST /actuals at --rate per second for --actuals-seconds (the replay rows of the
  latest weeks, repeated: repeats answer 200 "duplicate"), against the SQLite store; any non-2xx is an error.
The load average is printed beside each figure (2 shared cores: ratios within one run, not absolutes).
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

from . import load
from .servers import ROOT, Gunicorn


def la() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def train(work: Path) -> dict[str, Path]:
    from importlib import import_module

    out = {}
    flow = work / "flow"
    import_module("services.flow.train").main(["--small", "--quiet", "--no-publish", "--output", str(flow)])
    out["flow"] = flow
    sales = work / "sales"
    import_module("services.sales.train").main(["--stores", "1,2", "--quiet", "--no-publish", "--output", str(sales)])
    out["sales"] = sales
    demand = work / "demand"
    import_module("services.demand.pipeline").run(["--quick", "--quiet", "--no-publish", "--output", str(demand),
                                                   "--database-url", f"sqlite:///{work / 'warehouse.db'}",
                                                   "--report", str(work / "report.txt")])
    out["demand"] = demand
    return out


def metric(text: str, name: str) -> float:
    return sum(float(m.group(1)) for m in re.finditer(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.M))


def flow_run(store_uri: str, work: Path, backend: str, seconds: float) -> dict:
    from .targets import FLOW_INGEST_STADIUM, flow_ingest_gates

    env = {"MODEL_STORE_URI": store_uri, "MODEL_CACHE_DIR": str(work / f"cache-{backend}"),
           "FLOW_SQLITE_PATH": str(work / f"flow-{backend}.sqlite3"), "LOG_LEVEL": "WARNING",
           "MONITORING_BACKEND": backend, "MONITORING_SQLITE_DIR": str(work / f"mon-{backend}"),
           "API_KEYS": load.BENCH_WRITE_KEY, "FLOW_MAX_AGE_SECONDS": str(40 * 365 * 86400)}  # past-stamped readings
    with Gunicorn("services.flow.api:create_app()", env, log_dir=work) as srv:
        srv.wait_ready("/api/flow/ready")
        gates = flow_ingest_gates(srv.url)
        url = srv.url + "/api/flow/ingest"
        start_rss = max(srv.worker_rss_mb())
        samples, requests_done, errors, elapsed = [], 0, 0, 0.0
        chunk = 15.0
        base = 1_000_000_000 if backend == "off" else 1_300_000_000
        for i in range(max(1, int(seconds // chunk))):
            res = load.run_ingest(url, FLOW_INGEST_STADIUM, gates, 500, chunk, base=base + i * 20_000_000)
            requests_done += res.requests
            errors += res.errors
            elapsed += res.requests / res.rps if res.rps else chunk
            samples.append(max(srv.worker_rss_mb()))
        time.sleep(12)   # one flush interval: what the workers keep once the queue is drained
        after = max(srv.worker_rss_mb())
        text = requests.get(srv.url + "/api/flow/metrics", timeout=10).text
    return {"backend": backend, "requests": requests_done, "errors": errors,
            "readings_per_s": round(requests_done * 500 / elapsed, 1), "rss_start_mb": round(start_rss, 1),
            "rss_max_mb": round(max(samples), 1), "rss_last_mb": round(samples[-1], 1),
            "rss_after_flush_mb": round(after, 1),
            "dropped": metric(text, "model_monitoring_dropped_total"),
            "dropped_rows": metric(text, "model_monitoring_dropped_rows_total"),
            "queue_peak_rows": metric(text, "model_monitoring_queue_peak_rows"), "load": la()}


def actuals_run(service: str, store_uri: str, work: Path, rate: float, seconds: float) -> dict:
    from importlib import import_module

    bodies = [actual for _, actual in import_module(f"services.{service}.replay").rows(20)]
    env = {"MODEL_STORE_URI": store_uri, "MODEL_CACHE_DIR": str(work / f"cache-{service}"), "LOG_LEVEL": "WARNING",
           "MONITORING_BACKEND": "sqlite", "MONITORING_SQLITE_DIR": str(work / f"mon-{service}"),
           "API_KEYS": load.BENCH_WRITE_KEY}
    with Gunicorn(f"services.{service}.api:create_app()", env, log_dir=work) as srv:
        srv.wait_ready(f"/api/{service}/ready")
        url = f"{srv.url}/api/{service}/actuals"
        # The small sales model knows stores 1 and 2 (others are a 400 naming Store); the first pass stores each
        # actual (201), the later passes repeat them (200, "duplicate", read back from the store).
        usable = [b for b in bodies if service != "sales" or b["Store"] in (1, 2)]
        lock, state = threading.Lock(), {"k": 0}
        codes: dict[int, int] = {}
        latencies: list[float] = []
        total = int(rate * seconds)
        started = time.perf_counter() + 0.2

        def worker() -> None:
            session = requests.Session()
            session.headers["Authorization"] = f"Bearer {load.BENCH_WRITE_KEY}"   # /actuals is a write route
            while True:
                with lock:
                    k = state["k"]
                    state["k"] += 1
                if k >= total:
                    return
                wait = started + k / rate - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                t = time.perf_counter()
                try:
                    code = session.post(url, json=usable[k % len(usable)], timeout=10).status_code
                except requests.RequestException:
                    code = -1
                with lock:
                    codes[code] = codes.get(code, 0) + 1
                    latencies.append(time.perf_counter() - t)

        threads = [threading.Thread(target=worker) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        took = time.perf_counter() - started
    ok = sum(n for c, n in codes.items() if c in (200, 201))
    latencies.sort()
    return {"service": service, "distinct_actuals": len(usable), "sent": total, "seconds": round(took, 1),
            "rps": round(total / took, 1), "ok": ok, "errors": total - ok, "statuses": dict(sorted(codes.items())),
            "p50_ms": round(statistics.median(latencies) * 1000, 1),
            "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 1), "load": la()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ingest-seconds", type=float, default=120.0)
    parser.add_argument("--actuals-seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--services", default="flow,sales,demand")
    parser.add_argument("--write", action="store_true", help="write bench/MEMORY.md and its section of RESULTS.md")
    args = parser.parse_args(argv)
    wanted = args.services.split(",")
    from services.common.store import ModelStore

    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        work = Path(tmp)
        print(f"[bench.memory] training small models ({la()})", file=sys.stderr, flush=True)
        built = train(work)
        uri = (work / "store").as_uri()
        store = ModelStore(uri, work / "publish")
        for name, folder in built.items():
            store.publish(name, folder)
        lines = [f"Command: `flock /tmp/podman-tier.lock python -m bench.memory --ingest-seconds "
                 f"{args.ingest_seconds:g} --actuals-seconds {args.actuals_seconds:g} --rate {args.rate:g}` "
                 f"({os.cpu_count()} cores; small models)", ""]
        if "flow" in wanted:
            runs = []
            for backend in ("sqlite", "off"):
                print(f"[bench.memory] flow ingest, monitoring {backend} ({la()})", file=sys.stderr, flush=True)
                runs.append(flow_run(uri, work, backend, args.ingest_seconds))
            on, off = runs
            lines += ["| flow /ingest, 500 readings a request, 4 connections | monitoring on (sqlite) | off |",
                      "|---|---|---|"]
            for key in ("requests", "errors", "readings_per_s", "rss_start_mb", "rss_max_mb", "rss_last_mb",
                        "rss_after_flush_mb", "dropped", "dropped_rows", "queue_peak_rows", "load"):
                lines.append(f"| {key} | {on[key]} | {off[key]} |")
            lines += ["", f"Worker RSS max, on / off: {on['rss_max_mb'] / off['rss_max_mb']:.3f}x; "
                          f"readings/s on / off: {on['readings_per_s'] / off['readings_per_s']:.3f}x", ""]
        for service in ("sales", "demand"):
            if service in wanted:
                print(f"[bench.memory] {service} /actuals at {args.rate:g}/s ({la()})", file=sys.stderr, flush=True)
                r = actuals_run(service, uri, work, args.rate, args.actuals_seconds)
                lines.append(f"- {service} `POST /actuals` at {args.rate:g}/s for {args.actuals_seconds:g} s "
                             f"(SQLite store, {r['distinct_actuals']} distinct actuals, then repeated): sent {r['sent']} in "
                             f"{r['seconds']} s ({r['rps']}/s), {r['ok']} answered 201/200, **{r['errors']} errors**, "
                             f"statuses {r['statuses']}, p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms "
                             f"(load average {r['load']})")
        text = "\n".join(lines)
        print(text)
    if args.write:
        write(text)
    return 0


SECTION = "## Monitoring under sustained load (python -m bench.memory)"


def write(text: str) -> None:
    """bench/MEMORY.md, and the same section in bench/RESULTS.md (replaced on each run; bench.run's
    regeneration of RESULTS.md does not run this and leaves the section out until this runs again)."""
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    body = f"{SECTION}\n\nGenerated by `python -m bench.memory --write` on {stamp}; do not edit by hand.\n\n{text}\n"
    (ROOT / "bench" / "MEMORY.md").write_text(body.replace(SECTION, "# Monitoring under sustained load", 1))
    results = ROOT / "bench" / "RESULTS.md"
    current = results.read_text()
    if SECTION in current:
        before, _, rest = current.partition(SECTION)
        after = rest[rest.find("\n## "):] if "\n## " in rest else ""
        current = before.rstrip("\n") + "\n\n" + body + after
    else:
        current = current.rstrip("\n") + "\n\n" + body
    results.write_text(current)


if __name__ == "__main__":
    sys.exit(main())
