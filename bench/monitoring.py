"""What monitoring costs a request, and what its flush thread costs per observation.

    python -m bench.monitoring [--requests 1000] [--rounds 5] [--output bench/MONITORING.md]

In process (Flask's test client, so the numbers are the app's own work, not the network's): sales
/predict with the trained model from the default store (`make models`), alternately with its
monitoring observer installed and removed, in interleaved rounds so machine load hits both alike.
Then the flush thread's side: bucketing the queued observations and adding them to a SQLite store.
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

BODY = {"Store": 1, "Date": "2012-03-09", "Holiday_Flag": 0, "Temperature": 58.76, "Fuel_Price": 3.669,
        "CPI": 221.0591887, "Unemployment": 7.348}


def per_request(client, n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        resp = client.post("/api/sales/predict", json=BODY)
        assert resp.status_code == 200, resp.get_data(as_text=True)
    return (time.perf_counter() - started) / n * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--output", type=Path, default=Path(__file__).resolve().parent / "MONITORING.md")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-monitoring-"))
    os.environ.update(MONITORING_BACKEND="sqlite", MONITORING_SQLITE_DIR=str(work), MONITORING_FLUSH_SECONDS="3600",
                      MONITORING_EMF_SECONDS="0", LOG_LEVEL="WARNING")
    from services.common.config import load_settings
    from services.sales.api import create_app

    app = create_app(load_settings(model_refresh_seconds=0), start_model_refresh=False)
    holder, monitor = app.extensions["model_holder"], app.extensions["monitor"]
    assert holder.refresh(), f"no sales model in the default store ({holder.last_error}); run `make models`"
    api_observers = monitor.api.observers
    observers = dict(api_observers)
    client = app.test_client()
    per_request(client, 200)                                  # warm up both paths
    on, off = [], []
    for _ in range(args.rounds):
        api_observers.update(observers)
        on.append(per_request(client, args.requests))
        monitor.clear_queue()
        api_observers.clear()
        off.append(per_request(client, args.requests))
    api_observers.update(observers)
    per_request(client, args.requests)                        # one round queued for the flush
    queued = len(monitor.queue)
    started = time.perf_counter()
    assert monitor.flush()
    flush_us = (time.perf_counter() - started) / queued * 1e6
    # The observer itself, as the route wrapper calls it: what the request thread pays.
    from services.sales.schemas import PredictRequest

    objects = {"body": PredictRequest.model_validate(BODY)}
    observe = observers["predict"]
    calls = monitor._drain_at - 1                            # below the early-drain mark: every call appends, no drain
    started = time.perf_counter()
    for _ in range(calls):
        observe(objects)
    observe_us = (time.perf_counter() - started) / calls * 1e6
    monitor.clear_queue()
    load = os.getloadavg()
    lines = [
        "# Monitoring cost", "",
        f"Command: `python -m bench.monitoring --requests {args.requests} --rounds {args.rounds}` "
        f"(load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}, {os.cpu_count()} cores).", "",
        "Sales `POST /predict` in process (Flask test client, the trained model of `make models`), "
        "monitoring observer installed vs removed, interleaved rounds:", "",
        "| | per request (µs), median of rounds | rounds |", "|---|---|---|",
        f"| observer installed | {statistics.median(on):.1f} | {', '.join(f'{v:.0f}' for v in on)} |",
        f"| observer removed | {statistics.median(off):.1f} | {', '.join(f'{v:.0f}' for v in off)} |",
        f"| difference | {statistics.median(on) - statistics.median(off):+.1f} | |", "",
        f"The observer alone, called {calls:,} times as the route wrapper calls it (the current model, one deque "
        f"append): {observe_us:.2f} µs per request; the spread between rounds above is the machine's load.", "",
        f"Flush thread, off the request path: {flush_us:.1f} µs per observation to bucket its 6 features and add "
        f"the counts to SQLite ({queued} observations in one flush).", "",
    ]
    args.output.write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
