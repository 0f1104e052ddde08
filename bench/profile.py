"""Where a request's time goes, in-process (no HTTP server, no load tool): the app is called as WSGI.

    python -m bench.profile sales [--store var/models] [--n 2000] [--top 12]

Prints the microseconds per request of a bare Flask app answering the same body (POST: `get_json`
then `jsonify`; GET: `jsonify` of the query), of the no-op (/health) and of each endpoint in
bench/targets.py, measured in alternating rounds so all see the same background load, with each
endpoint's ratio to the bare Flask request of its method; then a cProfile of the main endpoint
sorted by own time. Logging runs as in production (INFO, one JSON line per request), written to
/dev/null. The harness embeds this for every service.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import statistics
import time
from pathlib import Path
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


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("service")
    parser.add_argument("--store", type=Path, default=ROOT / "var" / "models")
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    import importlib
    import os
    import tempfile

    os.environ.setdefault("FLOW_SQLITE_PATH", str(Path(tempfile.mkdtemp(prefix="bench-profile-")) / "state.sqlite3"))
    import logging

    from services.common.config import load_settings

    from .targets import TARGETS

    api = importlib.import_module(f"services.{args.service}.api")
    app = api.create_app(load_settings(model_store_uri=args.store.resolve().as_uri(), model_refresh_seconds=0,
                                       model_start_wait_seconds=120, log_level="INFO", validate_responses=False))
    devnull = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    for handler in logging.getLogger().handlers:  # the production JSON handler, writing nowhere
        handler.setStream(devnull)
    bare = bare_flask()

    def call(method: str, path: str, data: bytes = b"") -> int:
        status = []
        body = app(_environ(method, path, data), lambda s, h, e=None: status.append(s))
        b"".join(body)
        return int(status[0].split()[0])

    def call_on(target, method: str, path: str, data: bytes = b"") -> int:
        status = []
        body = target(_environ(method, path, data), lambda s, h, e=None: status.append(s))
        b"".join(body)
        return int(status[0].split()[0])

    def interleaved(runs: dict[str, tuple], rounds: int = 7) -> dict[str, float]:
        """Median us/request of each run over `rounds` alternating rounds of n/rounds calls."""
        per_round = max(50, args.n // rounds)
        for target, method, path, data in runs.values():
            for _ in range(100):
                call_on(target, method, path, data)
        samples: dict[str, list[float]] = {k: [] for k in runs}
        for _ in range(rounds):
            for key, (target, method, path, data) in runs.items():
                started = time.perf_counter()
                for _ in range(per_round):
                    call_on(target, method, path, data)
                samples[key].append((time.perf_counter() - started) / per_round * 1e6)
        return {k: statistics.median(v) for k, v in samples.items()}

    prefix = f"/api/{args.service}"
    client = app.test_client()

    import urllib.request  # targets.py fetches catalogs over HTTP; answer it with the test client

    def _open(req, timeout=None):  # noqa: ARG001
        url = req if isinstance(req, str) else req.full_url
        path = urlsplit(url).path + (f"?{urlsplit(url).query}" if urlsplit(url).query else "")
        if isinstance(req, str) or req.data is None:
            resp = client.get(path)
        else:
            resp = client.post(path, data=req.data, content_type="application/json")

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

    runs: dict[str, tuple] = {"bare GET": (bare, "GET", "/bare", b""), "no-op": (app, "GET", f"{prefix}/health", b"")}
    bare_of: dict[str, str] = {}
    for ep in endpoints:
        data = json.dumps(ep.body).encode() if ep.body is not None else b""
        status = call(ep.method, prefix + ep.path, data)
        if status >= 300:
            raise SystemExit(f"{ep.label}: HTTP {status}")
        if ep.method == "POST":  # the bare Flask POST of the same body
            bare_of[ep.label] = f"bare POST ({ep.label})"
            runs[bare_of[ep.label]] = (bare, "POST", "/bare", data)
        else:
            bare_of[ep.label] = "bare GET"
        runs[ep.label] = (app, ep.method, prefix + ep.path, data)
    main_ep = next((ep for ep in endpoints if ep.main), None)
    kernel_app = kernel_probe(app, prefix, main_ep) if main_ep is not None else None
    if kernel_app is not None:  # the kernel alone: the main endpoint's own body schema, no model
        runs["kernel only"] = (kernel_app, main_ep.method, "/api/probe/echo" + (
            "?" + urlsplit(main_ep.path).query if urlsplit(main_ep.path).query else ""),
            json.dumps(main_ep.body).encode() if main_ep.body is not None else b"")
    us = interleaved(runs)
    out = {"service": args.service, "noop_us": round(us["no-op"], 1), "bare_get_us": round(us["bare GET"], 1),
           "endpoints": {ep.label: round(us[ep.label], 1) for ep in endpoints},
           "bare_us": {ep.label: round(us[bare_of[ep.label]], 1) for ep in endpoints},
           "x_bare": {ep.label: round(us[ep.label] / us[bare_of[ep.label]], 2) for ep in endpoints},
           "noop_x_bare_get": round(us["no-op"] / us["bare GET"], 2),
           "main": next((ep.label for ep in endpoints if ep.main), None),
           "kernel_only_us": round(us["kernel only"], 1) if "kernel only" in us else None,
           "kernel_only_x_bare": (round(us["kernel only"] / us[bare_of[main_ep.label]], 2)
                                  if "kernel only" in us else None),
           "load_average": [round(x, 2) for x in os.getloadavg()]}
    if main_ep is not None:
        data = json.dumps(main_ep.body).encode() if main_ep.body is not None else b""
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(args.n):
            call(main_ep.method, prefix + main_ep.path, data)
        prof.disable()
        text = io.StringIO()
        stats = pstats.Stats(prof, stream=text)
        stats.sort_stats("tottime").print_stats(args.top)
        lines = [ln for ln in text.getvalue().splitlines() if ln.strip()]
        start = next(i for i, ln in enumerate(lines) if ln.strip().startswith("ncalls"))
        root = str(ROOT) + "/"
        out["profile"] = [ln.replace(root, "").replace(str(Path(os.__file__).parent) + "/", "")
                          for ln in lines[start:]]
        out["profile_note"] = f"cProfile of {args.n} x {main_ep.label}, sorted by own time (profiler overhead included)"
    if args.json:
        print(json.dumps(out))
    else:
        print(f"{args.service}: kernel only {out['kernel_only_us']} us ({out['kernel_only_x_bare']}x bare); "
              f"no-op {out['noop_us']} us/request ({out['noop_x_bare_get']}x bare GET); " +
              "; ".join(f"{k} {v} us ({out['x_bare'][k]}x bare {out['bare_us'][k]} us)"
                        for k, v in out["endpoints"].items()) + f"; load average {out['load_average']}")
        print("\n".join(out.get("profile", [])))
    return out


if __name__ == "__main__":
    main()
