"""JSON-lines logging with the request id of the request being served.

Every line is one JSON object: ts, level, logger, message, request_id (inside a request) and any
`extra` fields. The per-request access line is written by `AccessLog` with the same shape through
the same handler, without building a LogRecord: at one line per request, logging's record,
formatter and `json.dumps` machinery cost more than the rest of a /health answer.
"""
from __future__ import annotations

import atexit
import collections
import json
import logging
import os
import sys
import threading
import time
from json.encoder import encode_basestring_ascii as _quote

from flask import has_request_context, request

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
REQUEST_ID_KEY = "services.request_id"  # where the WSGI layer keeps the id, in the request's environ


def _timestamp(created: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + f".{int(created % 1 * 1000):03d}Z"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": _timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if has_request_context():
            request_id = request.environ.get(REQUEST_ID_KEY)
            if request_id:
                entry["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD and (not key.startswith("_") or key == "_aws"):  # _aws: CloudWatch EMF
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class JsonLinesHandler(logging.StreamHandler):
    """The root handler `configure_logging` installs: JSON lines on a stream, the access lines batched.

    `AccessLog` hands it each request's finished line; a worker thread writes what waits in one write
    every FLUSH_SECONDS, so a request pays an append, not a locked write and flush of its own (those were
    ~10 us of a prediction in place, with the caches a request leaves). Bounded: at MAX_PENDING lines the
    request that reaches it writes them itself, never drops one. Any other record first writes the waiting
    lines, so the stream keeps the order lines were made in; the process's exit writes the rest (a killed
    worker loses at most FLUSH_SECONDS of access lines)."""

    FLUSH_SECONDS = 0.05
    MAX_PENDING = 256

    def __init__(self, stream=None):
        super().__init__(stream)
        self._pending: collections.deque[str] = collections.deque()
        self._writer_pid: int | None = None
        atexit.register(self.write_pending)

    def add_line(self, line: str) -> None:
        self._pending.append(line)
        if self._writer_pid != os.getpid():  # first line of this process (gunicorn forks after import)
            self._start_writer()
        if len(self._pending) >= self.MAX_PENDING:
            self.write_pending()

    def write_pending(self) -> None:
        pending = self._pending
        if not pending:
            return
        self.acquire()
        try:
            lines = [pending.popleft() for _ in range(len(pending))]  # appends meanwhile wait for the next
            if lines:
                self.stream.write("".join(lines))
                self.flush()
        except Exception:  # a closed or broken stream must not fail a request or kill the writer
            pass
        finally:
            self.release()

    def emit(self, record: logging.LogRecord) -> None:
        self.write_pending()
        super().emit(record)

    def _start_writer(self) -> None:
        with _WRITER_LOCK:
            if self._writer_pid == os.getpid():
                return
            self._writer_pid = os.getpid()
            threading.Thread(target=self._write_forever, name="access-log-writer", daemon=True).start()

    def _write_forever(self) -> None:
        while True:
            time.sleep(self.FLUSH_SECONDS)
            self.write_pending()


_WRITER_LOCK = threading.Lock()


def _json_handler() -> logging.Handler | None:
    for handler in logging.getLogger().handlers:
        if isinstance(handler.formatter, JsonFormatter):
            return handler
    return None


class AccessLog:
    """One INFO line per request: method, path, status, ms, request_id (the shape JsonFormatter writes).

    Falls back to the logging module when the root logger has any other handler (e.g. pytest's log
    capture) or this logger has its own, so the line reaches every handler; the fast path only skips
    work, not information.
    """

    def __init__(self, logger: str = "services.http"):
        self.root = logging.getLogger()
        self.logger = logging.getLogger(logger)
        self.prefix = f'"level": "INFO", "logger": {_quote(logger)}, "message": "request", "request_id": '
        self._second = -1
        self._stamp = ""

    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)

    def __call__(self, method: str, path: str, status: int, ms: float, request_id: str) -> None:
        handlers = self.root.handlers
        handler = handlers[0] if len(handlers) == 1 else None
        if handler is None or not isinstance(handler.formatter, JsonFormatter) or self.logger.handlers:
            self.logger.info("request", extra={"method": method, "path": path, "status": status, "ms": ms,
                                               "request_id": request_id})
            return
        now = time.time()
        second = int(now)
        if second != self._second:  # strftime once a second, not once a request
            self._second, self._stamp = second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        line = (f'{{"ts": "{self._stamp}.{int(now % 1 * 1000):03d}Z", {self.prefix}{_quote(request_id)}, '
                f'"method": {_quote(method)}, "path": {_quote(path)}, "status": {status}, "ms": {ms}}}\n')
        if type(handler) is JsonLinesHandler:
            handler.add_line(line)
            return
        handler.acquire()
        try:
            handler.stream.write(line)
            handler.flush()
        finally:
            handler.release()


def configure_logging(level: str = "INFO") -> None:
    """Install the JSON handler on the root logger once per process."""
    root = logging.getLogger()
    if _json_handler() is not None:
        root.setLevel(level)
        return
    handler = JsonLinesHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root.handlers[:] = [handler]
    root.setLevel(level)
