"""The request-path ratios of issue 25 for some services, in a few minutes (`make bench` takes ten):

    python -m bench.ratios sales demand forecast powerball flow [--store var/models] [--seconds 10] [--no-gunicorn]

Per service: the in-process CPU us per request of its main endpoint over a bare Flask app answering the same
request (bench.profile, in its own process, 11 interleaved rounds), then, through gunicorn (the production
config, 2 gevent workers, wrk), the endpoint's req/s over /health's and the workers' CPU per request, in
alternating rounds (bench.run.drive_interleaved). One JSON line per service, then a markdown table. Run it
from two checkouts one after the other (e.g. a `git worktree` of the base commit) for before/after figures
under the same load; the load average is printed beside each.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from .servers import ROOT, Gunicorn


def in_process(service: str, store: Path) -> dict:
    out = subprocess.run([sys.executable, "-m", "bench.profile", service, "--json", "--top", "1", "--store",
                          str(store)], cwd=ROOT, capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or ["failed"])[-1]}
    got = json.loads(out.stdout.strip().splitlines()[-1])
    main = got["main"]
    return {"endpoint": main, "us": got["endpoints"][main], "bare_us": got["bare_us"][main],
            "x_bare": got["x_bare"][main], "x_bare_rounds": got["x_bare_spread"][main],
            "kernel_only_x_bare": got["kernel_only_x_bare"], "load": got["load_average"]}


def through_gunicorn(service: str, store: Path, seconds: float) -> dict:
    from .run import drive_interleaved, service_env
    from .targets import TARGETS

    work = Path(tempfile.mkdtemp(prefix="bench-ratios-"))
    prefix = f"/api/{service}"
    with Gunicorn(f"services.{service}.api:create_app()", service_env(store.resolve().as_uri(), work),
                  log_dir=work) as srv:
        srv.wait_ready(f"{prefix}/ready")
        ep = next(e for e in TARGETS[service].endpoints(srv.url) if e.main)
        noop, main = drive_interleaved(srv, [("GET", f"{prefix}/health", None),
                                             (ep.method, prefix + ep.path, ep.body)], seconds)
    return {"endpoint": ep.label, "rps": main["rps"], "noop_rps": noop["rps"], "x_noop": main["x_noop_median"],
            "x_noop_rounds": [min(main["x_noop_rounds"]), max(main["x_noop_rounds"])],
            "worker_cpu_us": main["worker_cpu_us"], "noop_worker_cpu_us": noop["worker_cpu_us"],
            "errors": main["errors"], "load": [round(x, 2) for x in os.getloadavg()]}


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("services", nargs="+")
    parser.add_argument("--store", type=Path, default=ROOT / "var" / "models")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds of load per endpoint through gunicorn")
    parser.add_argument("--no-gunicorn", action="store_true")
    args = parser.parse_args(argv)
    rows = []
    for service in args.services:
        row = {"service": service, "in_process": in_process(service, args.store)}
        if not args.no_gunicorn:
            row["gunicorn"] = through_gunicorn(service, args.store, args.seconds)
        print(json.dumps(row), flush=True)
        rows.append(row)
    print("\n| service | endpoint | in-process us | x bare Flask (rounds) | kernel only x bare | gunicorn req/s | "
          "x /health (rounds) | worker CPU us (/health) | load |")
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        ip, g = row["in_process"], row.get("gunicorn") or {}
        if "error" in ip:
            print(f"| {row['service']} | in-process failed: {ip['error']} |")
            continue
        gun = (f"{g['rps']:,.0f} | {g['x_noop']} ({g['x_noop_rounds'][0]}-{g['x_noop_rounds'][1]}) | "
               f"{g['worker_cpu_us']:,.0f} ({g['noop_worker_cpu_us']:,.0f})" if g else "- | - | -")
        print(f"| {row['service']} | {ip['endpoint']} | {ip['us']:,.0f} | {ip['x_bare']} ({ip['x_bare_rounds'][0]}-"
              f"{ip['x_bare_rounds'][1]}) | {ip['kernel_only_x_bare']} | {gun} | {ip['load'][0]} / "
              f"{g.get('load', ['-'])[0]} |")
    return rows


if __name__ == "__main__":
    main()
