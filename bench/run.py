"""The performance harness.

    python -m bench.run [--quick] [--services sales,demand] [--seconds N] [--output DIR]

For every built service in services/registry.json (services/<name>/api.py exists): serve it under
the production gunicorn configuration (2 workers) from a model store holding its trained model,
drive its no-op (/health), its main prediction endpoint(s) and its batch endpoint(s) on 127.0.0.1,
then the seeds' style for the same model (bench/seed_app.py), each run bounded in time; record
requests/s, p50/p99 latency and worker RSS; then cold start from a moto S3 endpoint, the imports of
a serving worker, ONNX batch throughput (1,000 rows) and training time; last, monitoring under sustained
load (bench/memory.py: 10 minutes of flow ingest, /actuals at 200/s) on the same models. Writes RESULTS.md
and results.json into --output (default bench/).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from importlib import metadata
from pathlib import Path

from . import load, memory, report, seeds
from .servers import ROOT, Gunicorn, Moto
from .targets import TARGETS

TRAINING_LIBS = ("sklearn", "xgboost", "lightgbm", "statsmodels", "pandas")
DEFAULT_STORE = ROOT / "var" / "models"
SEED_CACHE = ROOT / "var" / "bench" / "seed"


def say(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def built_services() -> list[str]:
    registry = json.loads((ROOT / "services" / "registry.json").read_text())
    return [s["name"] for s in registry["services"] if (ROOT / "services" / s["name"] / "api.py").exists()]


def registry_services() -> list[str]:
    return [s["name"] for s in json.loads((ROOT / "services" / "registry.json").read_text())["services"]]


def timed_training(service: str, out: Path) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", f"services.{service}.train", "--output", str(out), "--no-publish",
                    "--quiet"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env={**os.environ, "PROGRESS": "0"})
    return time.perf_counter() - started


def model_source(service: str, work: Path, train: bool, store: Path = DEFAULT_STORE) -> tuple[str, Path, float | None]:
    """(store URI, version folder, training seconds or None). Reuses `store` (var/models) when it has a LATEST."""
    from services.common.store import ModelStore

    train_seconds = None
    latest = store / service / "LATEST"
    if train or not latest.exists():
        out = work / "train" / service
        say(f"{service}: training (timed)")
        train_seconds = timed_training(service, out)
        say(f"{service}: trained in {train_seconds:.1f}s")
        if not latest.exists():
            uri = (work / "store").as_uri()
            version = ModelStore(uri, work / "cache").publish(service, out)
            return uri, work / "store" / service / version, train_seconds
    version = latest.read_text().strip()
    return store.as_uri(), store / service / version, train_seconds


def service_env(store_uri: str, work: Path) -> dict[str, str]:
    run = uuid.uuid4().hex[:8]
    return {"MODEL_STORE_URI": store_uri, "MODEL_CACHE_DIR": str(work / f"cache-{run}"),
            "FLOW_SQLITE_PATH": str(work / f"flow-state-{run}.sqlite3"), "LOG_LEVEL": "INFO",
            "API_KEYS": load.BENCH_WRITE_KEY, "FLOW_MAX_AGE_SECONDS": str(40 * 365 * 86400)}  # past-stamped ingest  # as in production


def drive(server: Gunicorn, method: str, path: str, body, seconds: float) -> dict:
    load.run_load(server.url + path, method=method, body=body, seconds=min(1.0, seconds))  # warm-up
    return load.run_load(server.url + path, method=method, body=body, seconds=seconds).as_dict()


def drive_interleaved(server: Gunicorn, runs: list[tuple[str, str, dict | None]], seconds: float) -> list[dict]:
    """Each (method, path, body) for `seconds` in total, in alternating rounds of ~2 s (1 s when quick).

    The machine is shared: load from other work comes and goes, so A-then-B runs give ratios that
    swing by 2x. Alternating rounds expose every endpoint to the same background; req/s is total
    requests over total time, p50 the median of the rounds' p50, p99 the highest round p99. Beside
    them: each round's req/s over the first run's (the no-op's) in the same round, and the workers'
    CPU time per request in each round (from /proc: what a request costs the server, which other
    processes on the cores do not change the way they change req/s).
    """
    rounds = max(1, int(seconds // 2))
    per_round = max(1.0, seconds / rounds)
    for method, path, body in runs:  # warm-up: imports, caches, first connections
        load.run_load(server.url + path, method=method, body=body, seconds=1.0)
    parts: list[list[load.LoadResult]] = [[] for _ in runs]
    cpu: list[list[float]] = [[] for _ in runs]
    for _ in range(rounds):
        for i, (method, path, body) in enumerate(runs):
            before = server.worker_cpu_seconds()
            result = load.run_load(server.url + path, method=method, body=body, seconds=per_round)
            spent = server.worker_cpu_seconds() - before
            parts[i].append(result)
            cpu[i].append(spent / result.requests * 1e6 if result.requests else float("nan"))
    out = []
    for i, results in enumerate(parts):
        total = sum(r.requests for r in results)
        elapsed = sum(r.requests / r.rps for r in results if r.rps) or 1.0
        x_first = [r.rps / f.rps for r, f in zip(results, parts[0]) if f.rps]
        out.append({"rps": round(total / elapsed, 1),
                    "p50_ms": round(statistics.median(r.p50_ms for r in results), 2),
                    "p99_ms": round(max(r.p99_ms for r in results), 2), "requests": total,
                    "errors": sum(r.errors for r in results), "tool": results[0].tool, "rounds": len(results),
                    "round_rps": [round(r.rps) for r in results],
                    "x_noop_rounds": [round(x, 3) for x in x_first],
                    "x_noop_median": round(statistics.median(x_first), 3) if x_first else None,
                    "worker_cpu_us": round(statistics.median(cpu[i]), 1),
                    "worker_cpu_us_rounds": [round(c, 1) for c in cpu[i]]})
    return out


def measure_service(service: str, store_uri: str, version_dir: Path, work: Path, seconds: float) -> dict:
    result: dict = {"service": service, "endpoints": [], "seed": None,
                    "rf_model": bool(TARGETS.get(service) and TARGETS[service].rf_model)}
    target = TARGETS.get(service)
    prefix = f"/api/{service}"
    with Gunicorn(f"services.{service}.api:create_app()", service_env(store_uri, work), log_dir=work) as srv:
        result["ready_s_file_store"] = round(srv.wait_ready(f"{prefix}/ready"), 3)
        endpoints = target.endpoints(srv.url) if target is not None else []
        if target is None:
            result["note"] = "no request defined in bench/targets.py"
        else:
            result["batch_note"] = target.batch_note
        say(f"{service}: no-op {prefix}/health and " + ", ".join(ep.label for ep in endpoints)
            + f", interleaved, {seconds:g} s each")
        measured = drive_interleaved(srv, [("GET", f"{prefix}/health", None)]
                                     + [(ep.method, prefix + ep.path, ep.body) for ep in endpoints], seconds)
        result["noop"] = measured[0]
        result["load_average"] = [round(x, 2) for x in os.getloadavg()]
        for ep, res in zip(endpoints, measured[1:]):
            res.update(label=ep.label, method=ep.method, main=ep.main, batch_rows=ep.batch_rows,
                       rows_per_s=round(res["rps"] * ep.batch_rows, 1))
            result["endpoints"].append(res)
        if service == "flow":
            result["ingest"] = flow_ingest(srv, seconds)
        result["worker_rss_mb"] = [round(r, 1) for r in srv.worker_rss_mb()]
        result["worker_memory_mb"] = srv.worker_memory_mb()
    if target is not None:
        try:
            spec = seeds.build(service, version_dir, SEED_CACHE / service)
        except Exception as exc:  # noqa: BLE001 - reported, not fatal
            spec = None
            result["seed_error"] = f"{type(exc).__name__}: {exc}"
        if spec is not None:
            say(f"{service}: seeds' style ({spec['description']})")
            # The seeds ran sync workers; under gevent their native models answered ~15x slower
            # (2.5 vs ~38 req/s for sales in a --quick run), which would flatter the comparison.
            with Gunicorn("bench.seed_app:create_app()", {"BENCH_SEED_DIR": str(SEED_CACHE / service),
                                                          "GUNICORN_CMD_ARGS": "--worker-class sync"},
                          log_dir=work) as seed:
                seed.wait_ready("/seed/health")
                res = drive(seed, "POST", "/seed/predict", spec["body"], seconds)
                res.update(description=spec["description"],
                           worker_rss_mb=[round(r, 1) for r in seed.worker_rss_mb()])
                result["seed"] = res
    return result


def flow_ingest(srv: Gunicorn, seconds: float) -> dict:
    """POST /api/flow/ingest with new readings (no duplicates) into the SQLite state file, single and batched."""
    from .targets import FLOW_INGEST_STADIUM, flow_ingest_gates

    gates = flow_ingest_gates(srv.url)
    out = {"stadium": FLOW_INGEST_STADIUM, "state": "SQLite (WAL) file, the local durable backend"}
    # Past timestamps (2001-2011), a separate range per run: every reading is new, none is in the future.
    for i, (label, batch) in enumerate((("single", 1), ("batched", 500))):
        say(f"flow: ingest {label} ({batch} per request)")
        url = srv.url + "/api/flow/ingest"
        load.run_ingest(url, FLOW_INGEST_STADIUM, gates, batch, 1.0, base=1_000_000_000 + 200_000_000 * i)
        res = load.run_ingest(url, FLOW_INGEST_STADIUM, gates, batch, seconds,
                              base=1_100_000_000 + 200_000_000 * i).as_dict()
        elapsed = res["requests"] / res["rps"] if res["rps"] else 1.0
        res.update(batch=batch, readings_per_s=round(max(0, res["requests"] - res["errors"]) * batch / elapsed, 1))
        out[label] = res
    out["batched_readings_per_s"] = out["batched"]["readings_per_s"]
    out["single_readings_per_s"] = out["single"]["readings_per_s"]
    return out


def cold_start(service: str, version_dir: Path, work: Path, repeats: int) -> dict:
    """Process start to /ready 200 with the model fetched from a moto S3 endpoint into an empty cache."""
    import boto3

    from services.common.store import ModelStore

    times, rss = [], []
    with Moto() as moto:
        env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
               "AWS_ENDPOINT_URL": moto.endpoint}
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            bucket = f"bench-{uuid.uuid4().hex[:10]}"
            boto3.client("s3", endpoint_url=moto.endpoint).create_bucket(Bucket=bucket)
            uri = f"s3://{bucket}/models"
            ModelStore(uri, work / "publish-cache").publish(service, version_dir)
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        for _ in range(repeats):
            with Gunicorn(f"services.{service}.api:create_app()", {**env, **service_env(uri, work)},
                          log_dir=work) as srv:
                times.append(srv.wait_ready(f"/api/{service}/ready", interval=0.01))
                rss.append(max(srv.worker_rss_mb() or [0]))
    return {"seconds": [round(t, 3) for t in times], "median_s": round(statistics.median(times), 3),
            "worker_rss_mb": round(max(rss), 1)}


IMPORT_PROBE = r"""
import json, sys, time
from pathlib import Path
started = time.perf_counter()
from services.common.config import load_settings
from services.{svc}.api import create_app
imported = time.perf_counter()
app = create_app(load_settings(model_store_uri=sys.argv[1], model_cache_dir=Path(sys.argv[2]),
                               model_refresh_seconds=0, model_start_wait_seconds=120))
holder = app.extensions["model_holder"]
assert holder.wait_first_load(120) is not None, holder.reason()
elapsed = time.perf_counter() - started
libs = sorted(m for m in {libs!r} if m in sys.modules)
heavy = sorted(m for m in ("scipy", "boto3", "onnxruntime", "numpy", "flask", "pydantic_settings") if m in sys.modules)
print(json.dumps({{"imported": libs, "load_s": round(elapsed, 3), "import_s": round(imported - started, 3),
                  "create_and_load_s": round(elapsed - (imported - started), 3), "heavy_modules": heavy}}))
"""


def import_probe(service: str, store_uri: str, work: Path) -> dict:
    code = IMPORT_PROBE.format(svc=service, libs=TRAINING_LIBS)
    out = subprocess.run([sys.executable, "-c", code, store_uri, str(work / f"probe-cache-{service}")], cwd=ROOT,
                         capture_output=True, text=True, timeout=300, env={**os.environ, "LOG_LEVEL": "WARNING"})
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "failed"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def request_profile(service: str, store: Path) -> dict:
    """bench.profile in its own process: in-process us/request and a cProfile of the main endpoint."""
    out = subprocess.run([sys.executable, "-m", "bench.profile", service, "--json", "--top", "14",
                          "--store", str(store)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def onnx_batches(version_dir: Path, rows: int = 1000) -> list[dict]:
    import numpy as np

    from services.common.onnx import OnnxModel

    results = []
    rng = np.random.default_rng(0)
    for path in sorted(version_dir.glob("*.onnx")):
        model = OnnxModel(path)
        width = model.n_features if isinstance(model.n_features, int) else 8
        x = rng.random((rows, width), dtype=np.float32)
        model.run(x)
        started = time.perf_counter()
        reps = 0
        while time.perf_counter() - started < 0.5:
            model.run(x)
            reps += 1
        batch_s = (time.perf_counter() - started) / reps
        one = x[:1]
        started = time.perf_counter()
        for _ in range(200):
            model.run(one)
        single_s = (time.perf_counter() - started) / 200
        results.append({"file": path.name, "batch_ms": round(batch_s * 1000, 2),
                        "rows_per_s_batched": round(rows / batch_s), "rows_per_s_single": round(1 / single_s),
                        "single_ms": round(single_s * 1000, 3)})
    return results


def machine() -> dict:
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())
    mem = next(int(ln.split()[1]) for ln in Path("/proc/meminfo").read_text().splitlines()
               if ln.startswith("MemTotal"))
    versions = {}
    for pkg in ("flask", "gunicorn", "pydantic", "onnxruntime", "numpy", "prometheus-client", "boto3", "pandas",
                "scikit-learn", "xgboost-cpu", "statsmodels", "moto"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = "absent"
    wrk = shutil.which("wrk")
    if wrk:
        first = subprocess.run([wrk, "--version"], capture_output=True, text=True).stdout.splitlines()
        versions["wrk"] = first[0] if first else "present"
    return {"nproc": os.cpu_count(), "cpu": cpu, "memory_gb": round(mem / 1024 / 1024, 1),
            "python": platform.python_version(), "kernel": platform.release(), "libraries": versions,
            "load_average": [round(x, 2) for x in os.getloadavg()]}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 s runs, one cold start, no training timing")
    parser.add_argument("--services", default=None, help="comma-separated subset of the built services")
    parser.add_argument("--seconds", type=float, default=None, help="seconds per load run (default 10; quick 2)")
    parser.add_argument("--output", type=Path, default=ROOT / "bench", help="where RESULTS.md and results.json go")
    parser.add_argument("--no-train", action="store_true", help="do not time training (full runs time it)")
    parser.add_argument("--install-seconds", type=float, default=None,
                        help="measured seconds of a fresh venv + pip install, for the `make run` estimate "
                             "(default: an assumed 180 s, said so in the report)")
    parser.add_argument("--memory-seconds", type=float, default=None,
                        help="seconds of flow ingest with monitoring on (default 600, the issue's 10 minutes; "
                             "quick 10); the run with monitoring off lasts at most 120 s")
    parser.add_argument("--actuals-seconds", type=float, default=None,
                        help="seconds of sales and demand POST /actuals at 200/s (default 60; quick 3)")
    parser.add_argument("--no-memory", action="store_true", help="skip monitoring under sustained load")
    parser.add_argument("--store", type=Path, default=DEFAULT_STORE,
                        help="a file model store folder to take models from (default var/models); a service "
                             "without a LATEST there is trained first")
    args = parser.parse_args(argv)
    seconds = args.seconds or (2.0 if args.quick else 10.0)
    built = built_services()
    chosen = built if not args.services else [s for s in args.services.split(",") if s]
    unknown = [s for s in chosen if s not in built]
    if unknown:
        parser.error(f"not built (no services/<name>/api.py): {', '.join(unknown)}; built: {', '.join(built)}")
    time_training = not (args.quick or args.no_train)
    command = "python -m bench.run" + ("" if argv is None and len(sys.argv) == 1 else " " + " ".join(
        argv if argv is not None else sys.argv[1:]))
    results = {"command": command, "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "seconds_per_run": seconds,
               "load_tool": load.tool_name(), "machine": machine(), "services": {},
               "not_built": [s for s in registry_services() if s not in built],
               "install_seconds": args.install_seconds, "built": built}
    say(f"services {chosen}; {seconds}s per run; load tool {results['load_tool']}")
    work = Path(tempfile.mkdtemp(prefix="bench-"))
    sources: dict[str, str] = {}
    try:
        for service in chosen:
            try:
                results["services"][service] = measure_all(service, work, time_training, seconds, args, sources)
            except Exception as exc:  # noqa: BLE001 - one broken service must not hide the others
                say(f"{service}: FAILED {type(exc).__name__}: {exc}")
                results.setdefault("failed", {})[service] = f"{type(exc).__name__}: {exc}"
        if "flow" in results["services"] and "ingest" in results["services"]["flow"]:
            results["flow_ingest"] = results["services"]["flow"]["ingest"]
        monitored = {s: uri for s, uri in sources.items() if s in ("flow", "sales", "demand")}
        if monitored and not args.no_memory:
            ingest = args.memory_seconds or (10.0 if args.quick else 600.0)
            actuals = args.actuals_seconds or (3.0 if args.quick else 60.0)
            say(f"monitoring under sustained load: {', '.join(monitored)}")
            try:
                results["memory"] = memory.measure(monitored, work / "memory", ingest, actuals, 200.0)
            except Exception as exc:  # noqa: BLE001 - reported, not fatal
                say(f"memory: FAILED {type(exc).__name__}: {exc}")
                results.setdefault("failed", {})["memory"] = f"{type(exc).__name__}: {exc}"
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results["finished"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    results["machine"]["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "results.json").write_text(json.dumps(results, indent=1))
    (args.output / "RESULTS.md").write_text(report.render(results))
    say(f"wrote {args.output / 'RESULTS.md'}")
    return results


def measure_all(service: str, work: Path, time_training: bool, seconds: float, args, sources: dict) -> dict:
    """Everything the report shows for one service; `sources` gets the store URI its model came from."""
    store_uri, version_dir, train_s = model_source(service, work, time_training, args.store.resolve())
    sources[service] = store_uri
    entry = measure_service(service, store_uri, version_dir, work, seconds)
    entry["version"] = version_dir.name
    entry["training_s"] = round(train_s, 1) if train_s is not None else None
    say(f"{service}: cold start from S3")
    entry["cold_start"] = cold_start(service, version_dir, work, 1 if args.quick else 3)
    entry["imports"] = import_probe(service, store_uri, work)
    entry["onnx_batch"] = onnx_batches(version_dir)
    say(f"{service}: in-process cost against a bare Flask app, and a profile of the request path")
    entry["profile"] = request_profile(service, version_dir.parent.parent)
    return entry


if __name__ == "__main__":
    main()
