"""Replay the latest weeks of each service's data set as requests and actuals into running services.

    python -m services.common.replay [--url http://127.0.0.1:8080] [--weeks 20] [service ...]

For the monitoring demo (`make demo-monitoring`, with `make run` going): every service with a
`services.<svc>.replay` module yields (a /predict body, an actual); each is posted, and the
service's monitoring verdict printed. The rows replayed were part of the training data (the data
the services train on stays as it is), so the live figures they give are in-sample, and say so.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from .auth import client_headers
from .registry import load_registry


def call(url: str, body: dict | None = None, attempts: int = 3, headers: dict[str, str] | None = None
         ) -> tuple[int, dict]:
    """One request; a 503 (a store that is briefly unavailable) is tried again, up to `attempts` in all;
    every 503 is printed with the service's reason (a retried one too: it is never silent)."""
    data = None if body is None else json.dumps(body).encode()
    for attempt in range(1, attempts + 1):
        req = urllib.request.Request(url, data=data, method="GET" if body is None else "POST",
                                     headers={"Content-Type": "application/json", "Accept": "application/json",
                                              **(headers or {})})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as exc:
            status, answer = exc.code, json.loads(exc.read() or b"{}")
        if status != 503 or attempt == attempts:
            break
        print(f"{url}: HTTP 503 on attempt {attempt}, trying again: {answer.get('error', {}).get('message', answer)}")
        time.sleep(0.5 * attempt)
    if status >= 500 or status in (401, 403):
        print(f"{url}: HTTP {status} after {attempt} attempt(s): {answer.get('error', {}).get('message', answer)}")
    return status, answer


def requests_seen(prefix: str) -> int:
    status, body = call(f"{prefix}/monitoring")
    return body["versions"][0]["requests"] if status == 200 and body.get("versions") else 0


def replay(base: str, service: str, weeks: int, workers: int = 4, settle_seconds: float = 30.0) -> dict:
    rows = list(importlib.import_module(f"services.{service}.replay").rows(weeks))
    prefix = f"{base}/api/{service}"
    before = requests_seen(prefix)
    write = client_headers(service)       # /actuals is a write route: the service's key

    def one(row):
        request, actual = row
        codes = [call(f"{prefix}/predict", request)[0]] if request is not None else []
        return codes + [call(f"{prefix}/actuals", actual, headers=write)[0]]

    with ThreadPoolExecutor(workers) as pool:
        codes = Counter(c for result in pool.map(one, rows) for c in result)
    # Every worker adds its counts to the store every MONITORING_FLUSH_SECONDS: wait for all of them.
    expected = before + sum(1 for request, _ in rows if request is not None)
    deadline = time.monotonic() + settle_seconds
    while requests_seen(prefix) < expected and time.monotonic() < deadline:
        time.sleep(0.5)
    status, body = call(f"{prefix}/monitoring")
    return {"rows": len(rows), "statuses": dict(sorted(codes.items())), "monitoring": status,
            "verdict": body["versions"][0]["verdict"] if status == 200 else body.get("error", {}).get("message")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("services", nargs="*", help="default: every registry service with a replay module")
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="where `make run` serves")
    parser.add_argument("--weeks", type=int, default=20, help="the latest weeks of each data set (default 20)")
    args = parser.parse_args(argv)
    names = args.services or [n for n in load_registry().names()
                              if importlib.util.find_spec(f"services.{n}") and importlib.util.find_spec(f"services.{n}.replay")]
    failed = False
    for name in names:
        try:
            result = replay(args.url.rstrip("/"), name, args.weeks)
        except (urllib.error.URLError, OSError) as exc:
            print(f"[{name}] cannot reach {args.url}: {exc} (is `make run` going?)", file=sys.stderr)
            return 2
        print(f"[{name}] {result['rows']} rows replayed, HTTP statuses {result['statuses']}")
        print(f"[{name}] {result['verdict']}")
        failed |= result["monitoring"] != 200 or any(code >= 500 for code in result["statuses"])
    print("These rows were in the training data: the live figures are in-sample (each actual says in_training).")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
