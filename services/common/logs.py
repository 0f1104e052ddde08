"""JSON-lines logging with the request id of the request being served.

Every line is one JSON object: ts, level, logger, message, request_id (inside a request) and any
`extra` fields. The per-request access line is written by `AccessLog` with the same shape through
the same handler, without building a LogRecord: at one line per request, logging's record,
formatter and `json.dumps` machinery cost more than the rest of a /health answer.
"""
from __future__ import annotations

import json
import logging
import sys
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
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root.handlers[:] = [handler]
    root.setLevel(level)
