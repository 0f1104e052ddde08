"""Prometheus metrics; multiprocess-safe under gunicorn when PROMETHEUS_MULTIPROC_DIR is set."""
from __future__ import annotations

import os

from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram,
                               generate_latest)

REQUESTS = Counter("http_requests_total", "HTTP requests", ["service", "endpoint", "method", "status"])
LATENCY = Histogram("http_request_duration_seconds", "Request latency", ["service", "endpoint"],
                    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
MODEL_INFO = Gauge("model_version_info", "1 for the model version a worker serves", ["service", "version"],
                   multiprocess_mode="liveall")
MODEL_LOAD_FAILURES = Counter("model_load_failures_total", "Model versions or LATEST reads refused", ["service"])


def set_model_version(service: str, version: str, previous: str | None) -> None:
    if previous:
        MODEL_INFO.labels(service=service, version=previous).set(0)
    MODEL_INFO.labels(service=service, version=version).set(1)


def render() -> tuple[bytes, str]:
    """Text exposition; aggregates all workers' files in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    from prometheus_client import REGISTRY

    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
