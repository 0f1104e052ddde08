"""Holds the serving model and swaps in new versions without a restart.

A background thread polls LATEST every MODEL_REFRESH_SECONDS. A new version is fetched,
verified and loaded beside the current one; only a fully loaded model replaces it (one
reference assignment, atomic under the GIL). If anything fails, the old model keeps
serving, the failure is logged and counted, and the bad version is not retried until
LATEST changes again.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Generic, TypeVar

from . import metrics
from .store import ModelStore

ModelT = TypeVar("ModelT")
Loader = Callable[[Path, dict[str, Any]], ModelT]

log = logging.getLogger("services.model")


@dataclass(frozen=True)
class Loaded(Generic[ModelT]):
    model: ModelT
    manifest: dict[str, Any]

    @property
    def version(self) -> str:
        return self.manifest["version"]


class ModelHolder(Generic[ModelT]):
    def __init__(self, service: str, store: ModelStore, loader: Loader, refresh_seconds: float):
        self.service = service
        self.store = store
        self.loader = loader
        self.refresh_seconds = refresh_seconds
        self._current: Loaded[ModelT] | None = None
        self._failed_version: str | None = None
        self.last_error: str | None = None
        self._activity: tuple[str, float] | None = None  # what the refresh thread is doing, since when
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._first_attempt = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def current(self) -> Loaded[ModelT] | None:
        return self._current

    def refresh(self) -> bool:
        """Load LATEST if it changed. True when a new version was swapped in."""
        with self._lock:
            try:
                return self._refresh()
            finally:
                self._activity = None

    def _doing(self, what: str) -> None:
        self._activity = (what, time.monotonic())

    def _refresh(self) -> bool:
        self._doing(f"reading {self.service}/LATEST")
        try:
            version = self.store.latest_version(self.service)
        except Exception as exc:  # store down or empty: keep serving what we have
            self._record_failure(None, f"cannot read LATEST: {exc}")
            return False
        if self._current is not None and self._current.version == version:
            if self.last_error and self._failed_version is None:
                self.last_error = None
            return False
        if version == self._failed_version:
            return False
        started = time.perf_counter()
        try:
            self._doing(f"fetching version {version}")
            directory, manifest = self.store.fetch(self.service, version)
            self._doing(f"loading version {version}")
            model = self.loader(directory, manifest)
        except Exception as exc:
            self._record_failure(version, f"version {version} refused: {exc}")
            return False
        previous = self._current.version if self._current else None
        self._current = Loaded(model=model, manifest=manifest)
        self._failed_version = None
        self.last_error = None
        metrics.set_model_version(self.service, version, previous)
        log.info("model loaded", extra={"service": self.service, "version": version,
                                        "previous": previous,
                                        "seconds": round(time.perf_counter() - started, 3)})
        return True

    def _record_failure(self, version: str | None, message: str) -> None:
        if version is not None:
            self._failed_version = version
        self.last_error = message
        metrics.MODEL_LOAD_FAILURES.labels(service=self.service).inc()
        log.error("model refresh failed", extra={"service": self.service, "error": message,
                                                 "serving": self._current.version if self._current else None})

    def reason(self) -> str:
        """Why no model is served yet, naming the store: what the loader is doing, or its last error."""
        activity = self._activity
        if self._current is None and activity is not None:
            what, since = activity
            state = f"{what} for {time.monotonic() - since:.1f} s"
            if self.last_error:
                state += f"; last error: {self.last_error}"
        elif self.last_error:
            state = self.last_error
        elif self._thread is None:
            state = "loading has not started"
        else:
            state = "loading"
        return f"{state} (store {self.store.uri})"

    def start(self) -> None:
        """Load in a background thread, then poll. Returns at once: building the app, /health and
        /ready never wait on the store (a hanging S3 endpoint must not stall liveness)."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name=f"model-refresh-{self.service}", daemon=True)
        self._thread.start()

    def wait_first_load(self, timeout: float) -> Loaded[ModelT] | None:
        """The model, after waiting (at most `timeout` s) for the first load attempt if it is still running."""
        if self._current is None and self._thread is not None and timeout > 0:
            self._first_attempt.wait(timeout)
        return self._current

    def _run(self) -> None:
        retry = 1.0
        while not self._stop.is_set():
            self.refresh()
            self._first_attempt.set()
            if self._current is None:  # not serving yet: retry soon, backing off to the poll interval
                wait = min(retry, self.refresh_seconds or 5.0)
                retry = min(retry * 2, 30.0)
            elif self.refresh_seconds <= 0:
                return
            else:
                wait = self.refresh_seconds
            self._stop.wait(wait)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
