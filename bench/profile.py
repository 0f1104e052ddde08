"""Where a request's time goes, in-process (no HTTP server, no load tool): the app is called as WSGI.

    python -m bench.profile sales [--store var/models] [--n 2000] [--top 12]

Prints the microseconds per request of the no-op (/health) and of each endpoint in bench/targets.py,
then a cProfile of the main endpoint sorted by own time. The harness embeds this for every service
whose main endpoint misses the no-op target.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
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
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    from services.common.config import load_settings

    from .targets import TARGETS

    api = importlib.import_module(f"services.{args.service}.api")
    app = api.create_app(load_settings(model_store_uri=args.store.resolve().as_uri(), model_refresh_seconds=0,
                                       model_start_wait_seconds=120, log_level="WARNING"))

    def call(method: str, path: str, data: bytes = b"") -> int:
        status = []
        body = app(_environ(method, path, data), lambda s, h, e=None: status.append(s))
        b"".join(body)
        return int(status[0].split()[0])

    def per_request(method: str, path: str, data: bytes) -> float:
        for _ in range(100):
            call(method, path, data)
        started = time.perf_counter()
        for _ in range(args.n):
            call(method, path, data)
        return (time.perf_counter() - started) / args.n * 1e6

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

    out = {"service": args.service, "noop_us": round(per_request("GET", f"{prefix}/health", b""), 1),
           "endpoints": {}}
    for ep in endpoints:
        data = json.dumps(ep.body).encode() if ep.body is not None else b""
        status = call(ep.method, prefix + ep.path, data)
        if status >= 300:
            raise SystemExit(f"{ep.label}: HTTP {status}")
        out["endpoints"][ep.label] = round(per_request(ep.method, prefix + ep.path, data), 1)
    main_ep = next((ep for ep in endpoints if ep.main), None)
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
        print(f"{args.service}: no-op {out['noop_us']} us/request; " +
              "; ".join(f"{k} {v} us" for k, v in out["endpoints"].items()))
        print("\n".join(out.get("profile", [])))
    return out


if __name__ == "__main__":
    main()
