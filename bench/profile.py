"""Where a request's time goes, in-process (no HTTP server, no load tool): the app is called as WSGI.

    python -m bench.profile sales [--store var/models] [--n 3300] [--rounds 11] [--top 12]

Prints the CPU microseconds per request of a bare Flask app answering the same body (POST: `get_json`
then `jsonify`; GET: `jsonify` of the query), of the kernel alone on the main endpoint's schema, of the
no-op (/health) and of each endpoint in bench/targets.py, measured in alternating rounds so all see the
same background load, with each endpoint's ratio to the bare Flask request of its method (the median of
the rounds' ratios, and their spread); then a cProfile of the main endpoint sorted by own time. Logging
runs as in production (INFO, one JSON line per request), written to /dev/null.

The clock is the calling thread's CPU time (`time.thread_time`), not the wall clock: on a shared machine
the wall clock also counts the time other processes held the core, which swung ratios by 2x between
runs; CPU time still varies with cache and core contention, which the interleaved rounds share out.

Monitoring: a service's observer runs on the request path (an append to an in-memory queue); its CPU
time is counted where it runs, inside each request (so it is part of every endpoint's number, and
reported apart). The bucketing of what was queued runs later in the worker's monitoring thread: here
that thread is held back (MONITORING_FLUSH_SECONDS) and the queue is drained after each round on this
thread, timed: the deferred CPU per request, reported beside the request path. The harness embeds this
for every service.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .servers import ROOT


def _environ(method: str, path: str, data: bytes) -> dict:
    parts = urlsplit(path)
    return {"REQUEST_METHOD": method, "PATH_INFO": parts.path, "QUERY_STRING": parts.query,
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "HTTP_HOST": "127.0.0.1",
            "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(data),
            "wsgi.errors": io.StringIO(), "wsgi.multithread": False, "wsgi.multiprocess": True,
            "wsgi.run_once": False, "CONTENT_LENGTH": str(len(data)), "CONTENT_TYPE": "application/json"}


def bare_flask():
    """The yardstick: Flask with nothing added, answering JSON the way the Flask docs show."""
    from flask import Flask, jsonify, request

    bare = Flask("bare")

    @bare.post("/bare")
    def post():
        return jsonify(request.get_json())

    @bare.get("/bare")
    def get():
        return jsonify(request.args.to_dict())

    return bare


def kernel_probe(app, prefix: str, ep):
    """A service app of the kernel with one route taking the main endpoint's own body or query schema
    and answering a two-field response model without any model work: what the kernel costs alone."""
    from pydantic import BaseModel

    from services.common.api import Api
    from services.common.app import create_service_app

    rule = urlsplit(ep.path).path
    blueprint_ops = [op for op in app.extensions.get("api_operations", [])]
    op = next((o for o in blueprint_ops if o.rule == rule and ep.method in o.methods), None)
    if op is None:
        return None

    class Echo(BaseModel):
        fields: int
        model_version: str

    probe = Api("probe")

    @probe.route("/echo", methods=(ep.method,), body=op.body, query=op.query, response=Echo, needs_model=False)
    def echo(body=None, query=None):
        got = body if body is not None else query
        return Echo(fields=len(type(got).model_fields) if got is not None else 0, model_version="probe")

    settings = app.extensions["settings"]
    return create_service_app(probe, lambda d, m: None, settings, start_model_refresh=False)


@dataclass
class Run:
    target: Any          # a WSGI app
    method: str
    path: str
    data: bytes = b""


def spread(values: list[float]) -> list[float]:
    """[lowest, highest] of the rounds' values: how far one round may be from another."""
    return [round(min(values), 2), round(max(values), 2)]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("service")
    parser.add_argument("--store", type=Path, default=ROOT / "var" / "models")
    parser.add_argument("--n", type=int, default=3300, help="calls per run in total, split over the rounds")
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    import importlib
    import os
    import tempfile

    scratch = Path(tempfile.mkdtemp(prefix="bench-profile-"))
    os.environ.setdefault("FLOW_SQLITE_PATH", str(scratch / "state.sqlite3"))
    os.environ["MONITORING_SQLITE_DIR"] = str(scratch / "monitoring")
    os.environ["MONITORING_FLUSH_SECONDS"] = "3600"  # the queue is drained here, timed, after each round
    from .load import BENCH_WRITE_KEY

    os.environ.setdefault("API_KEYS", BENCH_WRITE_KEY)  # targets.py prepares state through write routes (flow's ingest)
    import logging

    from services.common.config import load_settings

    from .targets import TARGETS

    api = importlib.import_module(f"services.{args.service}.api")
    app = api.create_app(load_settings(model_store_uri=args.store.resolve().as_uri(), model_refresh_seconds=0,
                                       model_start_wait_seconds=120, log_level="INFO", validate_responses=False))
    if app.extensions["model_holder"].wait_first_load(120) is None:
        raise SystemExit(f"{args.service}: no model loaded from {args.store}")
    devnull = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    for handler in logging.getLogger().handlers:  # the production JSON handler, writing nowhere
        handler.setStream(devnull)
    bare = bare_flask()
    monitor = app.extensions.get("monitor")
    api_object = app.extensions.get("api")
    observers = api_object.observers if api_object is not None else {}  # view name -> monitoring hook
    observed = {"seconds": 0.0, "calls": 0}

    def timed_observer(hook):
        """The hook, its CPU time counted where it runs (on the request path, with the caches as they are)."""
        def observe(objects):
            started = time.thread_time()
            hook(objects)
            observed["seconds"] += time.thread_time() - started
            observed["calls"] += 1
        return observe

    untimed = dict(observers)
    for view, hook in list(observers.items()):
        observers[view] = timed_observer(hook)

    def call_on(target, method: str, path: str, data: bytes = b"") -> int:
        status = []
        body = target(_environ(method, path, data), lambda s, h, e=None: status.append(s))
        b"".join(body)
        return int(status[0].split()[0])

    def call(method: str, path: str, data: bytes = b"") -> int:
        return call_on(app, method, path, data)

    def drain() -> float:
        """CPU seconds to bucket what the monitoring queue holds (the worker thread's work, done here)."""
        if monitor is None:
            return 0.0
        started = time.thread_time()
        with monitor._lock:
            monitor._drain()
        return time.thread_time() - started

    def timed(run: Run, calls: int) -> tuple[float, float, float]:
        """CPU us per call of `run`: the request path, the monitoring observer within it, and the bucketing
        done later for what it queued."""
        drain()
        observed.update(seconds=0.0, calls=0)
        started = time.thread_time()
        for _ in range(calls):
            call_on(run.target, run.method, run.path, run.data)
        spent = time.thread_time() - started
        return spent / calls * 1e6, observed["seconds"] / calls * 1e6, drain() / calls * 1e6

    def interleaved(runs: dict[str, Run]) -> tuple[dict[str, list[float]], ...]:
        """Per run, the CPU us/request of each of `rounds` alternating rounds, its observer's, its deferred part."""
        per_round = max(50, args.n // args.rounds)
        for run in runs.values():
            timed(run, 100)  # warm-up
        samples: dict[str, list[float]] = {k: [] for k in runs}
        observer: dict[str, list[float]] = {k: [] for k in runs}
        deferred: dict[str, list[float]] = {k: [] for k in runs}
        for _ in range(args.rounds):
            for key, run in runs.items():
                us, hook, later = timed(run, per_round)
                samples[key].append(us)
                observer[key].append(hook)
                deferred[key].append(later)
        return samples, observer, deferred

    prefix = f"/api/{args.service}"
    client = app.test_client()

    import urllib.request  # targets.py fetches catalogs over HTTP; answer it with the test client

    def _open(req, timeout=None):  # noqa: ARG001
        url = req if isinstance(req, str) else req.full_url
        path = urlsplit(url).path + (f"?{urlsplit(url).query}" if urlsplit(url).query else "")
        if isinstance(req, str) or req.data is None:
            resp = client.get(path)
        else:
            resp = client.post(path, data=req.data, content_type="application/json", headers=dict(req.header_items()))
        if resp.status_code >= 300:  # a preparation that failed must stop the run, not measure an empty state
            raise SystemExit(f"preparing {path}: HTTP {resp.status_code} {resp.get_data(as_text=True)[:300]}")

        class R(io.BytesIO):
            status = resp.status_code

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return False

        return R(resp.data)

    saved = urllib.request.urlopen
    urllib.request.urlopen = _open
    try:
        endpoints = TARGETS[args.service].endpoints("http://in-process") if args.service in TARGETS else []
    finally:
        urllib.request.urlopen = saved

    runs: dict[str, Run] = {"bare GET": Run(bare, "GET", "/bare"), "no-op": Run(app, "GET", f"{prefix}/health")}
    bare_of: dict[str, str] = {}
    for ep in endpoints:
        data = json.dumps(ep.body).encode() if ep.body is not None else b""
        status = call(ep.method, prefix + ep.path, data)
        if status >= 300:
            raise SystemExit(f"{ep.label}: HTTP {status}")
        if ep.method == "POST":  # the bare Flask POST of the same body
            bare_of[ep.label] = f"bare POST ({ep.label})"
            runs[bare_of[ep.label]] = Run(bare, "POST", "/bare", data)
        else:
            bare_of[ep.label] = "bare GET"
        runs[ep.label] = Run(app, ep.method, prefix + ep.path, data)
    main_ep = next((ep for ep in endpoints if ep.main), None)
    main_data = json.dumps(main_ep.body).encode() if main_ep is not None and main_ep.body is not None else b""
    kernel_app = kernel_probe(app, prefix, main_ep) if main_ep is not None else None
    if kernel_app is not None:  # the kernel alone: the main endpoint's own body schema, no model
        query = urlsplit(main_ep.path).query
        runs["kernel only"] = Run(kernel_app, main_ep.method, "/api/probe/echo" + (f"?{query}" if query else ""),
                                  main_data)
    samples, observer, deferred = interleaved(runs)
    us = {k: statistics.median(v) for k, v in samples.items()}

    def x_rounds(key: str, yardstick: str) -> list[float]:
        return [a / b for a, b in zip(samples[key], samples[yardstick])]

    labels = [ep.label for ep in endpoints]
    out = {"service": args.service, "clock": "thread CPU time", "rounds": args.rounds,
           "calls_per_round": max(50, args.n // args.rounds),
           "noop_us": round(us["no-op"], 1), "bare_get_us": round(us["bare GET"], 1),
           "endpoints": {k: round(us[k], 1) for k in labels},
           "endpoints_spread_us": {k: spread(samples[k]) for k in labels},
           "bare_us": {k: round(us[bare_of[k]], 1) for k in labels},
           "x_bare": {k: round(statistics.median(x_rounds(k, bare_of[k])), 2) for k in labels},
           "x_bare_spread": {k: spread(x_rounds(k, bare_of[k])) for k in labels},
           "observer_us": {k: round(statistics.median(observer[k]), 2) for k in labels},
           "deferred_monitoring_us": {k: round(statistics.median(deferred[k]), 1) for k in labels},
           "noop_x_bare_get": round(statistics.median(x_rounds("no-op", "bare GET")), 2),
           "main": main_ep.label if main_ep is not None else None,
           "kernel_only_us": round(us["kernel only"], 1) if "kernel only" in us else None,
           "kernel_only_x_bare": (round(statistics.median(x_rounds("kernel only", bare_of[main_ep.label])), 2)
                                  if "kernel only" in us else None),
           "load_average": [round(x, 2) for x in os.getloadavg()]}
    if main_ep is not None:
        observers.update(untimed)  # the profile sees the request path without the harness's clock reads
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(args.n):
            call(main_ep.method, prefix + main_ep.path, main_data)
        prof.disable()
        drain()
        text = io.StringIO()
        stats = pstats.Stats(prof, stream=text)
        stats.sort_stats(os.environ.get("PROFILE_SORT", "tottime")).print_stats(args.top)
        lines = [ln for ln in text.getvalue().splitlines() if ln.strip()]
        start = next(i for i, ln in enumerate(lines) if ln.strip().startswith("ncalls"))
        root = str(ROOT) + "/"
        out["profile"] = [ln.replace(root, "").replace(str(Path(os.__file__).parent) + "/", "")
                          for ln in lines[start:]]
        out["profile_note"] = f"cProfile of {args.n} x {main_ep.label}, sorted by own time (profiler overhead included)"
    if args.json:
        print(json.dumps(out))
    else:
        print(f"{args.service}: CPU us per request, medians of {args.rounds} rounds; kernel only "
              f"{out['kernel_only_us']} us ({out['kernel_only_x_bare']}x bare); no-op {out['noop_us']} us "
              f"({out['noop_x_bare_get']}x bare GET); " +
              "; ".join(f"{k} {v} us ({out['x_bare'][k]}x bare {out['bare_us'][k]} us, rounds "
                        f"{out['x_bare_spread'][k][0]}-{out['x_bare_spread'][k][1]}x; monitoring: observer "
                        f"{out['observer_us'][k]} us on the request path, bucketing later "
                        f"{out['deferred_monitoring_us'][k]} us)" for k, v in out["endpoints"].items())
              + f"; load average {out['load_average']}")
        print("\n".join(out.get("profile", [])))
    return out


if __name__ == "__main__":
    main()
