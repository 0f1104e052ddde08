"""Live monitoring: input drift against the training profile, and live error beside the baseline.

A service opts in with `services/<svc>/monitoring.py` exposing `monitoring() -> Monitoring`: which
views' requests to observe and how to read their served features, the body of an actual, its key,
and how to score the served model and the manifest's baseline on it. `create_service_app` mounts
the extension when that module exists: `POST /api/<svc>/actuals` (when the service has outcomes),
`GET /api/<svc>/monitoring`, gauges in /metrics and CloudWatch embedded-metric lines in the logs.

The request path only appends (view, request objects, model, rows) to an in-memory queue: the Api calls
the service's observer once a view has answered, or refused with a 4xx (an unknown id is an input
clients send too, and counts as unknown). The queue is bounded by the served rows it holds
(MONITORING_QUEUE_ROWS; a batch view says how many rows a request carries, `Monitoring.rows`), not
by requests: an observation that would pass the bound is dropped and counted
(model_monitoring_dropped_total, _dropped_rows_total, one warning a minute at most), never waited
for, so a burst costs at most the bound's memory and no request fails or blocks. A background
thread per worker drains it as soon as a quarter of the bound waits (else every flush), buckets every
served feature with the training profile's buckets (services.common.drift) into a few integers per
feature, and adds the counts to the shared store (SQLite under var/ locally, a DynamoDB table in
AWS) every MONITORING_FLUSH_SECONDS: counts add up over every worker and task. A failing store is
logged and counted, its deltas (bounded by the buckets, not the requests) kept for the next flush;
it never fails a prediction, /health or /ready.
"""
from __future__ import annotations

import atexit
import collections
import importlib
import importlib.util
import json
import logging
import math
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from flask import Flask, current_app
from prometheus_client import Counter, Gauge
from pydantic import BaseModel, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from . import drift
from . import evaluation as ev
from .api import Api, ApiError, current_model, json_response
from .config import PROJECT_ROOT, ConfigError
from .drift import Feature
from .monitor_store import Conflict, DynamoMonitorStore, MonitorStore, Scored, SqliteMonitorStore

log = logging.getLogger("services.monitoring")
emf_log = logging.getLogger("services.monitoring.emf")

MIN_ACTUALS = 30
VERSIONS_SHOWN = 5
DROP_LOG_SECONDS = 60.0   # a worker dropping observations says so at most once per this many seconds
DRAIN_YIELD_SECONDS = 0.005  # the drain gives the request threads (greenlets under gevent) a turn this often

# -- metrics: every worker reads the same store, so the most recent value of any worker is the value
_MODE = {"multiprocess_mode": "mostrecent"}
REQUESTS = Gauge("model_monitoring_requests", "Observed requests per model version since it went live",
                 ["service", "version"], **_MODE)
PSI = Gauge("model_input_drift_psi", "PSI of live inputs against the training profile", ["service", "version", "feature"],
            **_MODE)
DRIFT_LEVEL = Gauge("model_input_drift_level", "0 stable, 1 watch, 2 drift, -1 not enough requests yet",
                    ["service", "version", "feature"], **_MODE)
OUT_OF_RANGE = Gauge("model_input_out_of_range_share", "Share of live values outside the training range "
                     "(numbers) or unknown (categories)", ["service", "version", "feature"], **_MODE)
ACTUALS = Gauge("model_live_actuals", "Actuals scored per model version", ["service", "version"], **_MODE)
LIVE_ERROR = Gauge("model_live_error", "Live error on the actuals received (the service's metric)",
                   ["service", "version", "model", "metric"], **_MODE)
LIVE_RATIO = Gauge("model_live_error_ratio", "Live error of the served model / its baseline's (> 1: worse)",
                   ["service", "version"], **_MODE)
FAILURES = Counter("model_monitoring_failures_total", "Monitoring work that failed (store down, bad extractor)",
                   ["service", "stage"])
DROPPED = Counter("model_monitoring_dropped_total", "Observations (requests) not counted because the worker's "
                  "queue held MONITORING_QUEUE_ROWS rows", ["service"])
DROPPED_ROWS = Counter("model_monitoring_dropped_rows_total", "Served rows of those dropped observations", ["service"])
QUEUE_PEAK = Gauge("model_monitoring_queue_peak_rows", "Most rows a worker's monitoring queue held since its last "
                   "flush cycle (the largest over live workers; the bound is MONITORING_QUEUE_ROWS)", ["service"],
                   multiprocess_mode="livemax")
LEVELS = {"stable": 0, "watch": 1, "drift": 2}
MANIFEST_RETRY_SECONDS = 300.0   # a version whose manifest could not be read is asked again after this


class MonitoringSettings(BaseSettings):
    """MONITORING_* environment variables (validated at start; errors name the variable)."""

    model_config = SettingsConfigDict(env_prefix="MONITORING_", case_sensitive=False, extra="ignore")

    backend: str = Field("sqlite", pattern="^(sqlite|dynamodb|off)$", description="sqlite, dynamodb or off")
    sqlite_dir: Path = Field(PROJECT_ROOT / "var" / "monitoring", description="one <service>.sqlite3 per service")
    dynamodb_table: str = Field("", description="this service's table (MONITORING_BACKEND=dynamodb)")
    flush_seconds: float = Field(10.0, gt=0, description="how often a worker adds its counts to the store")
    emf_seconds: float = Field(60.0, ge=0, description="how often a worker logs CloudWatch embedded metrics; 0: never")
    queue_rows: int = Field(10_000, ge=1, le=10_000_000,
                            description="served rows a worker holds for bucketing at most; beyond it observations "
                                        "are dropped and counted")
    namespace: str = Field("StadiumML/Monitoring", pattern=r"^[A-Za-z0-9._/#:-]{1,255}$",
                           description="CloudWatch namespace of the embedded metrics")


def load_monitoring_settings(**overrides) -> MonitoringSettings:
    try:
        settings = MonitoringSettings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(f"MONITORING_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
                             for err in exc.errors())
        raise ConfigError(f"invalid configuration: {problems}") from None
    if settings.backend == "dynamodb" and not settings.dynamodb_table:
        raise ConfigError("invalid configuration: MONITORING_DYNAMODB_TABLE is required when "
                          "MONITORING_BACKEND=dynamodb")
    return settings


def build_store(service: str, settings: MonitoringSettings) -> MonitorStore | None:
    if settings.backend == "off":
        return None
    if settings.backend == "dynamodb":
        return DynamoMonitorStore(settings.dynamodb_table)
    return SqliteMonitorStore(settings.sqlite_dir / f"{service}.sqlite3")


# -- what a service supplies ------------------------------------------------------------------
@dataclass
class Score:
    """The served model and the manifest's baseline on one actual: their predictions and per-row losses
    (the live metric is sum(weight x loss) / sum(weight)). `when` is the outcome's own date (the chart's
    x axis); `in_training` says the row was part of the data the model was fitted on."""

    when: str
    actual: Any
    prediction: Any
    baseline_prediction: Any
    model_loss: float
    baseline_loss: float
    weight: float = 1.0
    in_training: bool = False
    detail: dict[str, Any] = field(default_factory=dict)


def absolute_error(when: str, actual: float, prediction: float, baseline: float, *, weight: float = 1.0,
                   in_training: bool = False, **detail: Any) -> Score:
    """A regression actual scored by absolute error (MAE, or WMAE with weights)."""
    return Score(when=when, actual=float(actual), prediction=float(prediction), baseline_prediction=float(baseline),
                 model_loss=abs(float(actual) - float(prediction)), baseline_loss=abs(float(actual) - float(baseline)),
                 weight=float(weight), in_training=in_training, detail=detail)


class BaselineUnavailable(Exception):
    """The served artifact cannot compute the manifest's baseline for an actual (answered as a 503)."""


Extractor = Callable[[dict[str, Any], Any], Iterable[dict[str, Any]]]


@dataclass
class Monitoring:
    """A service's monitoring: `observe` maps a view name to a function of (the view's validated request
    objects, the loaded model) giving one {feature: value} per served row (a list value counts each item,
    for a feature pooled over several inputs); `features` are the served
    features (training passes them to drift.profile); `actual` is the body of POST /actuals, `key(actual)`
    its idempotency key ({field: value}), `score(actual, loaded)` the Score of model and baseline;
    `rows` the number of served rows of a request, for views that take a batch;
    `metric` names the live error (a mean of per-row losses, as the manifest's summary metric)."""

    features: Sequence[Feature] = ()
    observe: dict[str, Extractor] = field(default_factory=dict)
    # view -> how many served rows a request of that view carries (a batch view; default 1), read on the
    # request path to bound the queue by rows: it must be cheap (a len()), never the extraction itself.
    rows: dict[str, Callable[[dict[str, Any]], int]] = field(default_factory=dict)
    actual: type[BaseModel] | None = None
    key: Callable[[Any], dict[str, Any]] | None = None
    score: Callable[[Any, Any], Score] | None = None
    metric: str = "MAE"
    summary: str = "summary"   # the manifest's metrics entry (an evaluation.summary) the live figures stand beside
    actuals_note: str = ""
    no_actuals_reason: str = ""


# -- response schemas (also the OpenAPI of the two routes) -------------------------------------
class ActualResponse(BaseModel):
    status: str = Field(description="'stored', or 'duplicate' for a repeat of a stored actual (not counted again)")
    key: str = Field(description="the idempotency key")
    model_version: str = Field(description="the version that was serving when the actual was first received")
    model: str
    baseline: str
    metric: str
    when: str = Field(description="the outcome's date")
    actual: Any
    prediction: Any = Field(description="the served model's prediction for this row")
    baseline_prediction: Any = Field(description="the manifest's baseline's prediction for this row")
    model_loss: float
    baseline_loss: float
    weight: float
    in_training: bool = Field(description="true when the row was in the data the model was trained on")
    detail: dict[str, Any]


class BucketShare(BaseModel):
    bucket: str
    training: float
    live: float


class FeatureDrift(BaseModel):
    kind: str
    observations: int
    psi: float | None
    status: str = Field(description="stable (PSI < 0.1), watch (0.1..0.25), drift (> 0.25), or not enough requests yet")
    missing_share: float
    training_missing_share: float
    out_of_range_share: float | None = None
    below_share: float | None = None
    above_share: float | None = None
    training_range: list[float] | None = None
    unknown_share: float | None = None
    training_categories: int | None = None
    buckets: list[BucketShare]


class Drift(BaseModel):
    status: str = Field(description="the worst feature status, or not applicable / unavailable")
    note: str
    features: dict[str, FeatureDrift]


class DayError(BaseModel):
    day: str = Field(description="the outcomes' date")
    actuals: int
    model: float
    baseline: float


class Offline(BaseModel):
    metric: str
    model_score: float
    baseline_score: float
    statement: str


class LiveError(BaseModel):
    metric: str
    model: str
    baseline: str
    actuals: int
    in_training: int = Field(description="how many of the actuals were rows the model was trained on")
    minimum: int = Field(description="actuals needed before a verdict")
    model_score: float | None
    baseline_score: float | None
    ratio_to_baseline: float | None
    beats_baseline: bool | None
    by_day: list[DayError]
    offline: Offline | None


class VersionReport(BaseModel):
    model_version: str
    serving: bool = Field(description="whether this worker serves this version now")
    live_since: str | None
    requests: int = Field(description="observed requests since the version went live, over all workers and tasks")
    drift: Drift
    live_error: LiveError | None
    verdict: str


class MonitoringResponse(BaseModel):
    service: str
    model_version: str = Field(description="the version this worker serves")
    store: str
    drift_method: str
    actuals: str = Field(description="what an actual is for this service, or why it has none")
    versions: list[VersionReport] = Field(description="newest first, at most five")


# -- the extension -----------------------------------------------------------------------------
def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


class Monitor:
    def __init__(self, service: str, spec: Monitoring, holder, model_store, settings: MonitoringSettings,
                 store: MonitorStore | None):
        self.service, self.spec, self.holder, self.model_store = service, spec, holder, model_store
        self.settings, self.store = settings, store
        self.queue: collections.deque = collections.deque()   # (view, objects, loaded, rows)
        self.queue_limit = settings.queue_rows
        self.queued_rows = 0                  # rows in the queue (the bound applies to this)
        self.peak_rows = 0                    # most rows queued since the last flush cycle
        self.dropped = self.dropped_rows = 0  # this worker's drops (also in the counters)
        self._drain_at = max(1, self.queue_limit // 4)
        self._qlock = threading.Lock()        # held for an append or a pop only (the request path takes it)
        self._wake = threading.Event()        # set when _drain_at rows wait: bucket them now
        self._drops_logged = (0, 0)           # (dropped, dropped_rows) at the last warning
        self._last_drop_log = -DROP_LOG_SECONDS
        self._dropped_counter, self._dropped_rows_counter = DROPPED.labels(service), DROPPED_ROWS.labels(service)
        self._lock = threading.Lock()         # the drain and the flush (pending counts, the store write)
        self._start_lock = threading.Lock()
        self._pending_counts: dict[tuple[str, str], dict[str, int]] = {}
        self._pending_requests: dict[str, int] = {}
        self._live_since: dict[str, str] = {}
        self._live_written: set[str] = set()
        self._buckets: dict[str, dict[str, drift.Buckets]] = {}
        self._manifests: dict[str, dict[str, Any]] = {}
        self._manifest_misses: dict[str, float] = {}   # version -> when reading its manifest last failed
        self._pid: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_emf = 0.0
        self.last_error: str | None = None

    # -- request path ------------------------------------------------------------------------
    def rows_of(self, view: str, objects: dict[str, Any]) -> int:
        count = self.spec.rows.get(view)
        if count is None:
            return 1
        try:
            return max(int(count(objects)), 1)
        except Exception:                 # a counting bug must not fail the request: count it as one row
            return 1

    def record(self, view: str, objects: dict[str, Any], loaded) -> None:
        """Called after the response is built: a row count and one append (or a drop), never a wait
        beyond an uncontended lock, never an exception. Monitoring off (no store): nothing is kept."""
        if self.store is None:
            return
        n = self.rows_of(view, objects)
        with self._qlock:
            queued = self.queued_rows + n
            if queued > self.queue_limit:
                self.dropped += 1
                self.dropped_rows += n
                queued = -1
            else:
                self.queue.append((view, objects, loaded, n))
                self.queued_rows = queued
                if queued > self.peak_rows:
                    self.peak_rows = queued
        if queued < 0:
            self._dropped_counter.inc()
            self._dropped_rows_counter.inc(n)
            self._log_drops()
        elif queued >= self._drain_at:
            self._wake.set()
        if self._pid != os.getpid():      # this worker's first observation: start its flush thread
            self.start()

    def _log_drops(self) -> None:
        """One warning per DROP_LOG_SECONDS with the drops since the last one. The check and the stamp are
        one step under the queue lock: a request thread and the flush thread must not both warn."""
        with self._qlock:
            now = time.monotonic()
            if self.dropped == self._drops_logged[0] or now - self._last_drop_log < DROP_LOG_SECONDS:
                return
            self._last_drop_log = now
            (seen, seen_rows), now_logged = self._drops_logged, (self.dropped, self.dropped_rows)
            self._drops_logged = now_logged
        log.warning("monitoring queue full: observations dropped (not counted in drift)",
                    extra={"service": self.service, "dropped": now_logged[0] - seen,
                           "dropped_rows": now_logged[1] - seen_rows, "queue_rows": self.queue_limit,
                           "dropped_total": now_logged[0]})

    def clear_queue(self) -> None:
        with self._qlock:
            self.queue.clear()
            self.queued_rows = 0

    # -- background work ---------------------------------------------------------------------
    def start(self) -> None:
        """The flush thread of this process (a forked worker starts its own)."""
        with self._start_lock:   # not self._lock: a request must never wait for a drain or a store write
            if self._pid == os.getpid() and self._thread is not None and self._thread.is_alive():
                return
            self._pid = os.getpid()
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=f"monitoring-{self.service}", daemon=True)
            self._thread.start()
            atexit.register(self._at_exit)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.flush()

    def _at_exit(self) -> None:
        """A stopping worker adds what it has counted; quietly (logging may be gone by now)."""
        if self._pid != os.getpid() or not (self.queue or self._pending_counts or self._pending_requests):
            return
        try:
            self._stop.set()
            logging.disable(logging.WARNING)
            self.flush()
        except Exception:
            pass
        finally:
            logging.disable(logging.NOTSET)

    def _run(self) -> None:
        due = time.monotonic() + self.settings.flush_seconds
        while not self._stop.is_set():
            if self._wake.wait(max(due - time.monotonic(), 0.0)):   # a quarter of the bound waits: bucket it now
                self._wake.clear()
                if self._stop.is_set():
                    break
                try:
                    with self._lock:
                        self._drain()
                except Exception:
                    FAILURES.labels(self.service, "thread").inc()
                    log.exception("monitoring drain failed", extra={"service": self.service})
                if time.monotonic() < due:
                    continue
            due = time.monotonic() + self.settings.flush_seconds
            with self._qlock:
                peak, self.peak_rows = self.peak_rows, self.queued_rows
            QUEUE_PEAK.labels(self.service).set(peak)
            self._log_drops()            # the drops since the last warning, though none came since
            try:
                if self.refresh_gauges() is None:  # no model yet (or the store is down): still add the counts
                    self.flush()
            except Exception:  # the thread must outlive any bug: it is what keeps the counts flowing
                FAILURES.labels(self.service, "thread").inc()
                log.exception("monitoring cycle failed", extra={"service": self.service})

    def _buckets_for(self, version: str, manifest: dict[str, Any]) -> dict[str, drift.Buckets]:
        table = self._buckets.get(version)
        if table is None:
            profile = (manifest.get("profile") or {}).get("features", {})
            table = {name: drift.Buckets(name, entry) for name, entry in profile.items()}
            self._buckets[version] = table
        return table

    def _drain(self) -> None:
        """Bucket every queued observation into the pending counts (a few integers per feature), giving
        the request threads a turn every few milliseconds (under gevent this thread is a greenlet)."""
        turn = time.perf_counter() + DRAIN_YIELD_SECONDS
        while True:
            with self._qlock:
                if not self.queue:
                    break
                view, objects, loaded, n = self.queue.popleft()
                self.queued_rows -= n
            if time.perf_counter() > turn:
                time.sleep(0)
                turn = time.perf_counter() + DRAIN_YIELD_SECONDS
            version = loaded.version
            if version not in self._live_since:
                self._live_since[version] = _now()
            self._pending_requests[version] = self._pending_requests.get(version, 0) + 1
            buckets = self._buckets_for(version, loaded.manifest)
            if not buckets:
                continue
            try:
                rows = list(self.spec.observe[view](objects, loaded.model))
            except Exception as exc:  # an extractor bug must not stop the others
                FAILURES.labels(self.service, "extract").inc()
                log.warning("monitoring extractor failed", extra={"service": self.service, "view": view,
                                                                   "error": repr(exc)})
                continue
            for row in rows:
                for name, value in row.items():
                    b = buckets.get(name)
                    if b is None:
                        continue
                    counts = self._pending_counts.setdefault((version, name), {})
                    for v in value if isinstance(value, (list, tuple)) else (value,):  # a pooled feature: each
                        key = b.key(v)
                        counts[key] = counts.get(key, 0) + 1

    def flush(self) -> bool:
        """Bucket what the queue holds and add it to the store; on failure keep it for the next flush."""
        if self.store is None:
            self.clear_queue()
            return False
        with self._lock:
            self._drain()
            loaded = self.holder.current
            if loaded is not None and loaded.version not in self._live_since:
                self._live_since[loaded.version] = _now()
            counts, requests = self._pending_counts, self._pending_requests
            live = {v: s for v, s in self._live_since.items() if v not in self._live_written}
            if not counts and not requests and not live:
                return True
            try:
                self.store.add(counts, requests, live)
            except Exception as exc:
                FAILURES.labels(self.service, "flush").inc()
                self.last_error = f"monitoring store {self.store.describe()}: {exc}"
                log.warning("monitoring flush failed; counts kept for the next one",
                            extra={"service": self.service, "error": self.last_error})
                return False
            self._pending_counts, self._pending_requests = {}, {}
            self._live_written.update(live)
            self.last_error = None
            return True

    # -- reports -----------------------------------------------------------------------------
    def manifest(self, version: str) -> dict[str, Any] | None:
        loaded = self.holder.current
        if loaded is not None and loaded.version == version:
            return loaded.manifest
        if version not in self._manifests:
            missed = self._manifest_misses.get(version)
            if missed is not None and time.monotonic() - missed < MANIFEST_RETRY_SECONDS:
                return None
            try:
                self._manifests[version] = self.model_store.manifest(self.service, version)
            except Exception as exc:
                if missed is None:  # once per version, not every cycle (a pruned version stays in the counts)
                    log.warning("no manifest for a monitored version", extra={"service": self.service,
                                                                                "version": version, "error": repr(exc)})
                self._manifest_misses[version] = time.monotonic()
                return None
            self._manifest_misses.pop(version, None)
        return self._manifests[version]

    def _drift(self, version: str, manifest: dict[str, Any] | None) -> dict[str, Any]:
        if not self.spec.features:
            return {"status": "not applicable", "features": {},
                    "note": "this service's requests carry no input features (nothing can drift)"}
        if manifest is None or not manifest.get("profile"):
            return {"status": "unavailable", "features": {},
                    "note": "this version's manifest has no training profile (trained before monitoring); "
                            "retrain to compare its inputs"}
        buckets = self._buckets_for(version, manifest)
        counts = self.store.counts(version, list(buckets))
        features = {name: drift.feature_drift(b, counts.get(name, {})) for name, b in buckets.items()}
        statuses = [f["status"] for f in features.values()]
        known = [s for s in statuses if s in LEVELS]
        overall = max(known, key=LEVELS.get) if known else "not enough requests yet"
        fewest = min((f["observations"] for f in features.values()), default=0)
        note = (f"PSI per feature against the training profile of {manifest['profile'].get('rows', '?')} rows"
                + (f"; fewest observations {fewest} (a status needs {drift.MIN_OBSERVATIONS})"
                   if fewest < drift.MIN_OBSERVATIONS else ""))
        return {"status": overall, "features": features, "note": note}

    def _live_error(self, version: str, manifest: dict[str, Any] | None) -> dict[str, Any] | None:
        if self.spec.actual is None:
            return None
        summary = (manifest or {}).get("metrics", {}).get(self.spec.summary, {})
        days = self.store.errors(version)
        n = sum(d["n"] for d in days)
        weight = sum(d["weight"] for d in days)
        model_sum = sum(d["model"] for d in days)
        base_sum = sum(d["baseline"] for d in days)
        model_score = model_sum / weight if weight else None
        base_score = base_sum / weight if weight else None
        ratio = model_score / base_score if model_score is not None and base_score else None
        offline = None
        if summary.get("statement"):
            offline = {"metric": summary.get("metric", ""), "model_score": summary["model_score"],
                       "baseline_score": summary["baseline_score"], "statement": summary["statement"]}
        return {"metric": self.spec.metric, "model": summary.get("model", "model"),
                "baseline": summary.get("baseline", "baseline"), "actuals": n,
                "in_training": sum(d["in_training"] for d in days), "minimum": MIN_ACTUALS,
                "model_score": model_score, "baseline_score": base_score, "ratio_to_baseline": ratio,
                "beats_baseline": (model_score < base_score) if n >= MIN_ACTUALS and base_score is not None else None,
                "by_day": [{"day": d["day"], "actuals": d["n"], "model": d["model"] / d["weight"],
                            "baseline": d["baseline"] / d["weight"]} for d in days if d["weight"]],
                "offline": offline}

    def verdict(self, drift_report: dict[str, Any], live: dict[str, Any] | None) -> str:
        parts = []
        if live is None:
            parts.append(f"no actuals for this service ({self.spec.no_actuals_reason or 'no outcome is reported'}): "
                         "live error cannot be measured")
        elif live["actuals"] < MIN_ACTUALS:
            parts.append(f"not enough actuals yet: {live['actuals']} of the {MIN_ACTUALS} needed to compare "
                         f"{live['model']} with the {live['baseline']} baseline on live data")
        else:
            seen = live["in_training"]
            note = ("all of them in the training data: in-sample, no evidence of live performance"
                    if seen == live["actuals"] else f"{seen} of them in the training data" if seen else "")
            parts.append(ev.summary(model=live["model"], baseline=live["baseline"], metric=live["metric"],
                                    model_score=live["model_score"], baseline_score=live["baseline_score"],
                                    evidence=f"{live['actuals']} live actuals", note=note)["statement"])
        features = drift_report["features"]
        drifted = [(n, f) for n, f in features.items() if f["status"] == "drift"]
        watch = [(n, f) for n, f in features.items() if f["status"] == "watch"]
        if drift_report["status"] in ("not applicable", "unavailable"):
            parts.append("input drift " + drift_report["status"])
        elif drifted or watch:
            text = ", ".join(f"{n} (PSI {f['psi']:.2f})" for n, f in drifted)
            if drifted:
                parts.append(f"inputs drifted: {text}")
            if watch:
                parts.append("watch: " + ", ".join(f"{n} (PSI {f['psi']:.2f})" for n, f in watch))
        elif drift_report["status"] == "stable":
            top = max((f["psi"] for f in features.values() if f["psi"] is not None), default=0.0)
            parts.append(f"inputs stable (largest PSI {top:.3f})")
        else:
            fewest = min((f["observations"] for f in features.values()), default=0)
            parts.append(f"input drift: not enough requests yet ({fewest} of {drift.MIN_OBSERVATIONS})")
        return "; ".join(parts)

    def report(self) -> dict[str, Any]:
        """The GET /monitoring answer (raises when the store cannot be read)."""
        self.flush()
        loaded = self.holder.current
        serving = loaded.version if loaded else None
        versions = self.store.versions()
        if serving and serving not in versions:
            versions[serving] = {"live_since": self._live_since.get(serving), "requests": 0}
        reports = []
        for version in sorted(versions, reverse=True)[:VERSIONS_SHOWN]:
            manifest = self.manifest(version)
            drift_report = self._drift(version, manifest)
            live = self._live_error(version, manifest)
            reports.append({"model_version": version, "serving": version == serving,
                            "live_since": versions[version].get("live_since") or None,
                            "requests": versions[version].get("requests", 0), "drift": drift_report,
                            "live_error": live, "verdict": self.verdict(drift_report, live)})
        actuals = (self.spec.actuals_note if self.spec.actual is not None else
                   f"no actuals: {self.spec.no_actuals_reason or 'no outcome is reported to this service'}")
        return {"service": self.service, "model_version": serving or "", "store": self.store.describe(),
                "drift_method": drift.METHOD, "actuals": actuals, "versions": reports}

    def refresh_gauges(self) -> dict[str, Any] | None:
        """Set this worker's gauges from the store (the serving version), and log the EMF line when due."""
        if self.store is None or self.holder.current is None:
            return None
        try:
            report = self.report()
        except Exception as exc:
            FAILURES.labels(self.service, "report").inc()
            self.last_error = f"monitoring store {self.store.describe()}: {exc}"
            return None
        current = next((r for r in report["versions"] if r["serving"]), None)
        if current is None:
            return report
        svc, version = self.service, current["model_version"]
        REQUESTS.labels(svc, version).set(current["requests"])
        for name, f in current["drift"]["features"].items():
            PSI.labels(svc, version, name).set(f["psi"] if f["psi"] is not None else float("nan"))
            DRIFT_LEVEL.labels(svc, version, name).set(LEVELS.get(f["status"], -1))
            share = f["out_of_range_share"] if f["kind"] == drift.NUMBER else f["unknown_share"]
            OUT_OF_RANGE.labels(svc, version, name).set(share)
        live = current["live_error"]
        if live is not None:
            ACTUALS.labels(svc, version).set(live["actuals"])
            if live["model_score"] is not None:
                LIVE_ERROR.labels(svc, version, "served", live["metric"]).set(live["model_score"])
                LIVE_ERROR.labels(svc, version, "baseline", live["metric"]).set(live["baseline_score"])
            if live["ratio_to_baseline"] is not None:
                LIVE_RATIO.labels(svc, version).set(live["ratio_to_baseline"])
        if self.settings.emf_seconds and time.monotonic() - self._last_emf >= self.settings.emf_seconds:
            self._last_emf = time.monotonic()
            for line in emf_documents(svc, self.settings.namespace, current):
                emf_log.info("monitoring metrics", extra=line)
        return report


def emf_documents(service: str, namespace: str, current: dict[str, Any]) -> list[dict[str, Any]]:
    """CloudWatch embedded metric format: one document for the service, one per feature. Dimensions are
    the service (and feature) only; the version is a property, so a release adds no new metric."""
    now = int(time.time() * 1000)
    live = current["live_error"]
    psis = [f["psi"] for f in current["drift"]["features"].values() if f["psi"] is not None
            and f["status"] in LEVELS]
    values: dict[str, float] = {"Requests": current["requests"]}
    if psis:
        values["DriftMaxPSI"] = max(psis)
    if live is not None:
        values["Actuals"] = live["actuals"]
        # Error figures only once there are enough actuals: an alarm must not fire on three rows.
        if live["actuals"] >= MIN_ACTUALS and live["model_score"] is not None:
            values.update(LiveErrorModel=live["model_score"], LiveErrorBaseline=live["baseline_score"])
            if live["ratio_to_baseline"] is not None:
                values["LiveErrorRatio"] = live["ratio_to_baseline"]
    docs = [{"_aws": {"Timestamp": now, "CloudWatchMetrics": [{
        "Namespace": namespace, "Dimensions": [["Service"]],
        "Metrics": [{"Name": k, "Unit": "Count" if k in ("Requests", "Actuals") else "None"} for k in values]}]},
        "Service": service, "ModelVersion": current["model_version"], **values}]
    for name, f in current["drift"]["features"].items():
        if f["psi"] is None or f["status"] not in LEVELS:
            continue
        share = f["out_of_range_share"] if f["kind"] == drift.NUMBER else f["unknown_share"]
        docs.append({"_aws": {"Timestamp": now, "CloudWatchMetrics": [{
            "Namespace": namespace, "Dimensions": [["Service", "Feature"]],
            "Metrics": [{"Name": "DriftPSI", "Unit": "None"}, {"Name": "OutOfRangeShare", "Unit": "None"}]}]},
            "Service": service, "Feature": name, "ModelVersion": current["model_version"],
            "DriftPSI": f["psi"], "OutOfRangeShare": share})
    return docs


def discover(service: str) -> Monitoring | None:
    """`services.<service>.monitoring.monitoring()`, when the service has that module."""
    name = f"services.{service}.monitoring"
    try:
        if importlib.util.find_spec(name) is None:
            return None
    except ModuleNotFoundError:
        return None
    return importlib.import_module(name).monitoring()


def _unavailable(monitor: Monitor, exc: Exception) -> ApiError:
    FAILURES.labels(monitor.service, "request").inc()
    where = monitor.store.describe() if monitor.store is not None else "off"
    log.warning("monitoring store unavailable", extra={"service": monitor.service, "error": repr(exc)})
    return ApiError(503, "monitoring_unavailable", f"the monitoring store ({where}) cannot be used: {exc}",
                    [{"field": "monitoring", "problem": "the store is unavailable; predictions are not affected"}])


def mount(app: Flask, api: Api, holder, model_store) -> Monitor | None:
    """Add the monitoring routes to `api` (call before its blueprint is registered) and the hooks to `app`."""
    spec = app.extensions.get("monitoring_spec") or discover(api.service)
    if spec is None:
        return None
    settings = load_monitoring_settings()
    # Metric lines are data, not chatter: emitted whatever LOG_LEVEL is (CloudWatch builds the metrics from them).
    emf_log.setLevel(logging.INFO)
    monitor = Monitor(api.service, spec, holder, model_store, settings, build_store(api.service, settings))
    app.extensions["monitor"] = monitor
    def observer(view: str):
        def observe(objects: dict[str, Any]) -> None:
            loaded = holder.current
            if loaded is not None:
                monitor.record(view, objects, loaded)
        return observe

    for view in spec.observe:
        api.observers[view] = observer(view)
    monitor.api = api

    if spec.actual is not None:
        actual_model = spec.actual

        @api.route("/actuals", methods=("POST",), body=actual_model, response=ActualResponse, status=201,
                   extra_statuses=(409,), write=True,
                   summary="An observed outcome: scored for the serving model and its baseline; idempotent on "
                           "its key (201 stored, 200 an identical repeat, 409 the key is stored with other values)")
        def actuals(body):
            monitor.start()
            loaded = current_model()
            if monitor.store is None:
                raise ApiError(503, "monitoring_unavailable", "monitoring is off (MONITORING_BACKEND=off)",
                               [{"field": "monitoring", "problem": "off"}])
            key_fields = spec.key(body)
            key = "|".join(f"{k}={v}" for k, v in key_fields.items())
            try:
                score = spec.score(body, loaded)
            except BaselineUnavailable as exc:
                raise ApiError(503, "baseline_unavailable", f"{exc}; this actual cannot be scored",
                               [{"field": "body", "problem": str(exc)}]) from None
            for name in ("model_loss", "baseline_loss", "weight"):
                if not math.isfinite(getattr(score, name)):
                    raise ApiError(400, "invalid_request", f"{name} of this actual is not finite",
                                   [{"field": "body", "problem": f"scoring gave a non-finite {name}"}])
            summary = loaded.manifest.get("metrics", {}).get(spec.summary, {})
            record = {"key": key, "model_version": loaded.version, "model": summary.get("model", "model"),
                      "baseline": summary.get("baseline", "baseline"), "metric": spec.metric, "when": score.when,
                      "actual": score.actual, "prediction": score.prediction,
                      "baseline_prediction": score.baseline_prediction, "model_loss": score.model_loss,
                      "baseline_loss": score.baseline_loss, "weight": score.weight,
                      "in_training": bool(score.in_training), "detail": score.detail}
            scored = Scored(key=key, version=loaded.version, day=score.when,
                            body=_canonical(body.model_dump()), record=record, weight=score.weight,
                            model_loss=score.model_loss, baseline_loss=score.baseline_loss,
                            in_training=bool(score.in_training))
            try:
                stored, existing = monitor.store.put_actual(scored)
            except Conflict as exc:
                fields = ", ".join(key_fields)
                raise ApiError(409, "conflict", f"an actual with key {key} is already stored with other values; "
                                                "a repeat must be identical (it is then not counted again)",
                               [{"field": fields, "problem": f"key {key} already stored: actual "
                                                            f"{_canonical(exc.existing.get('actual'))}"}]) from None
            except Exception as exc:
                raise _unavailable(monitor, exc) from None
            return json_response({"status": "stored" if stored else "duplicate", **existing}, 201 if stored else 200)

        api.operations[-1].other_bodies[200] = ActualResponse

    @api.route("/monitoring", response=MonitoringResponse,
               summary="Per model version since it went live: requests, input drift per feature against the "
                       "training profile, live error of the model and of its baseline on the actuals, a verdict")
    def monitoring():
        monitor.start()
        current_model()
        if monitor.store is None:
            raise ApiError(503, "monitoring_unavailable", "monitoring is off (MONITORING_BACKEND=off)",
                           [{"field": "monitoring", "problem": "off"}])
        try:
            return MonitoringResponse(**monitor.report())
        except ApiError:
            raise
        except Exception as exc:
            raise _unavailable(monitor, exc) from None

    return monitor


def monitor_of(app: Flask | None = None) -> Monitor | None:
    return (app or current_app).extensions.get("monitor")
