"""Load generators: wrk (preferred: C, one thread, leaves the cores to the server) or a small
Python fallback (threads + http.client keep-alive) when wrk is not installed.

Every run is bounded in time and returns requests/s, p50/p99 latency (ms) and the error count
(connection errors plus non-2xx answers).
"""
from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

# The key the bench's services accept on their write routes (bench/run.py gives it to them as API_KEYS);
# only the ingest load sends it, so the figure includes the key check a production write pays.
BENCH_WRITE_KEY = "bench_write_key_for_the_local_harness_only"

LUA = r"""
wrk.method = "%(method)s"
%(body)s
wrk.headers["Content-Type"] = "application/json"
done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
                 + summary.errors.timeout + summary.errors.status
  io.write(string.format('BENCH {"requests": %%d, "duration_us": %%d, "errors": %%d, "p50_us": %%d, "p99_us": %%d, "mean_us": %%f}\n',
    summary.requests, summary.duration, errors, latency:percentile(50), latency:percentile(99), latency.mean))
end
"""


@dataclass
class LoadResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    tool: str

    def as_dict(self) -> dict:
        return {"rps": round(self.rps, 1), "p50_ms": round(self.p50_ms, 2), "p99_ms": round(self.p99_ms, 2),
                "requests": self.requests, "errors": self.errors, "tool": self.tool}


def wrk_path() -> str | None:
    """wrk if installed, unless BENCH_LOAD_TOOL=python forces the fallback client."""
    if os.environ.get("BENCH_LOAD_TOOL", "").lower() == "python":
        return None
    return shutil.which("wrk")


def tool_name() -> str:
    return "wrk" if wrk_path() else "python"


def run_load(url: str, *, method: str = "GET", body: dict | None = None, seconds: float = 10,
             connections: int = 4) -> LoadResult:
    if wrk_path():
        return _wrk(url, method, body, seconds, connections)
    return _python(url, method, body, seconds, connections)


def _run_wrk(script: str, url: str, seconds: float, connections: int, request_timeout: str,
             grace: float) -> LoadResult:
    """Run wrk with a Lua script whose done() prints one `BENCH {json}` summary line."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(script)
        name = fh.name
    try:
        duration = max(1, round(seconds))
        out = subprocess.run([wrk_path(), "-t1", f"-c{connections}", f"-d{duration}s", "--timeout",
                              request_timeout, "-s", name, url], capture_output=True, text=True,
                             timeout=duration + grace)
    finally:
        Path(name).unlink(missing_ok=True)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("BENCH ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no summary: {out.stdout[-500:]} {out.stderr[-500:]}")
    data = json.loads(line[len("BENCH "):])
    return LoadResult(rps=data["requests"] / (data["duration_us"] / 1e6), p50_ms=data["p50_us"] / 1000,
                      p99_ms=data["p99_us"] / 1000, requests=data["requests"], errors=data["errors"], tool="wrk")


def _wrk(url: str, method: str, body: dict | None, seconds: float, connections: int) -> LoadResult:
    body_line = f"wrk.body = {json.dumps(json.dumps(body))}" if body is not None else ""
    return _run_wrk(LUA % {"method": method, "body": body_line}, url, seconds, connections, "5s", 30)


def _python(url: str, method: str, body: dict | None, seconds: float, connections: int,
            body_fn=None, extra_headers: dict[str, str] | None = None) -> LoadResult:
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    payload = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"} if payload is not None else {}
    latencies: list[list[float]] = [[] for _ in range(connections)]
    errors = [0] * connections
    stop_at = time.perf_counter() + seconds

    def worker(i: int) -> None:
        conn = None
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
                data = json.dumps(body_fn()).encode() if body_fn is not None else payload
                conn.request(method, path, body=data, headers={**(headers if body_fn is None else
                             {"Content-Type": "application/json"}), **(extra_headers or {})})
                resp = conn.getresponse()
                resp.read()
                if resp.status >= 300:
                    errors[i] += 1
                if resp.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException):
                errors[i] += 1
                if conn is not None:
                    conn.close()
                conn = None
                continue
            latencies[i].append(time.perf_counter() - started)
        if conn is not None:
            conn.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    flat = sorted(x for lst in latencies for x in lst)
    if not flat:
        return LoadResult(0.0, float("nan"), float("nan"), 0, sum(errors), "python")

    def pct(p: float) -> float:
        return flat[min(len(flat) - 1, int(p / 100 * len(flat)))] * 1000

    return LoadResult(rps=len(flat) / elapsed, p50_ms=pct(50), p99_ms=pct(99), requests=len(flat),
                      errors=sum(errors), tool="python")


FLOW_LUA = r"""
counter = 0
base = %(base)d
gates = {%(gates)s}
ngates = #gates
batch = %(batch)d
request = function()
  local parts = {}
  for i = 1, batch do
    counter = counter + 1
    local g = gates[(counter %% ngates) + 1]
    local t = base + math.floor(counter / ngates) * 60
    parts[i] = string.format('{"stadiumId":"%(stadium)s","gateId":"%%s","ts":"%%s","perMinuteCount":%%d,"avgProcessingTime":3.5,"queueLength":%%d}',
                             g, os.date("!%%Y-%%m-%%dT%%H:%%M:%%SZ", t), 20 + counter %% 40, counter %% 90)
  end
  local body
  if batch == 1 then body = parts[1] else body = '{"readings":[' .. table.concat(parts, ",") .. ']}' end
  return wrk.format("POST", "%(path)s", {["Content-Type"] = "application/json", ["Authorization"] = "Bearer %(key)s"}, body)
end
"""


def run_ingest(url: str, stadium: str, gates: list[str], batch: int, seconds: float, connections: int = 4,
               base: int = 1_600_000_000) -> LoadResult:
    """POST distinct readings (every (gate, ts) new, so nothing is a duplicate) in batches of `batch`."""
    parts = urlsplit(url)
    if wrk_path():
        done = LUA.split("done = function", 1)[1]
        script = FLOW_LUA % {"key": BENCH_WRITE_KEY, "base": base, "gates": ",".join(f'"{g}"' for g in gates), "batch": batch,
                             "stadium": stadium, "path": parts.path} + "done = function" + done.replace("%%", "%")
        return _run_wrk(script, url, seconds, connections, "10s", 60)
    # Python fallback: one shared counter, bodies built per request.
    lock = threading.Lock()
    state = {"n": 0}

    def body() -> dict:
        items = []
        with lock:
            start = state["n"]
            state["n"] += batch
        for k in range(start + 1, start + batch + 1):
            t = base + (k // len(gates)) * 60
            items.append({"stadiumId": stadium, "gateId": gates[k % len(gates)],
                          "ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)),
                          "perMinuteCount": 20 + k % 40, "avgProcessingTime": 3.5, "queueLength": k % 90})
        return items[0] if batch == 1 else {"readings": items}

    return _python(url, "POST", None, seconds, connections, body_fn=body,
                   extra_headers={"Authorization": f"Bearer {BENCH_WRITE_KEY}"})
