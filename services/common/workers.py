"""The gunicorn worker every service runs: gevent, with gunicorn's own error pages as JSON.

Why gevent (measured, docs/architecture.md): a sync worker, or a gthread worker with fewer threads
than there are slow clients, is held by a client that sends its headers byte by byte; with 50 such
clients normal requests stopped being answered. A gevent worker gives each connection a greenlet,
so slow and idle clients cost a few kilobytes each.

Two bounds, where gunicorn 27 has one: its gevent worker puts a single gevent.Timeout(keepalive)
around reading a request's head, which covers both the idle wait for the next request on a
keep-alive connection and the time a client takes to send its headers. The ALB keeps idle
connections to a target for its idle timeout (60 s) and must never find the target closed one
first (a request sent on a connection the target is closing is a 502), so keepalive must exceed
it; a slow-header client must not get that long. Here the idle wait is `keepalive` and, once a
request's first bytes have arrived, the rest of its head must follow within HEADER_TIMEOUT seconds
(GUNICORN_HEADER_TIMEOUT, default 10; it must be below keepalive).

gunicorn answers requests it cannot parse (400), a request line over `limit_request_line` (414) and
too many or too large headers (431) itself, with an HTML page, before the app sees them. This
worker writes the platform's JSON error shape instead.
"""
from __future__ import annotations

import json
import os

import gevent
from gunicorn import util
from gunicorn.http import parser as http_parser
from gunicorn.http.unreader import SocketUnreader
from gunicorn.workers.ggevent import GeventWorker

DEFAULT_HEADER_TIMEOUT = 10.0

_CODES = {400: "invalid_request", 403: "forbidden", 414: "uri_too_long", 417: "expectation_failed",
          431: "header_fields_too_large", 500: "internal_error", 501: "not_implemented"}


def error_body(status: int, reason: str, message: str, cfg) -> bytes:
    """The JSON error for a request gunicorn refused, naming the limit it broke."""
    details = []
    if status == 414:
        details = [{"field": "request line", "problem": f"method, path and query at most "
                                                       f"{cfg.limit_request_line} bytes"}]
    elif status == 431:
        details = [{"field": "headers", "problem": f"at most {cfg.limit_request_fields} header fields of at most "
                                                   f"{cfg.limit_request_field_size} bytes each"}]
    elif status == 400:
        details = [{"field": "request", "problem": "send a valid HTTP/1.1 request"}]
    body = {"error": {"code": _CODES.get(status, "http_error"), "message": message or reason,
                      "details": details}}
    return json.dumps(body).encode()


class RequestHeadTimeout:
    """Around gunicorn's read of one request head: up to `idle` seconds for its first bytes (an idle
    keep-alive connection waiting for the next request), then up to `head` seconds for the rest.
    Expiry closes the connection, as gunicorn's own keepalive timeout does."""

    __slots__ = ("idle", "head", "timer", "reading", "greenlet")

    def __init__(self, idle: float, head: float):
        self.idle, self.head = idle, head
        self.reading = False

    def __enter__(self) -> "RequestHeadTimeout":
        self.greenlet = gevent.getcurrent()
        self.timer = gevent.Timeout(self.idle)
        self.timer.start()
        _READING[self.greenlet] = self
        return self

    def first_bytes(self) -> None:
        if not self.reading:
            self.reading = True
            self.timer.close()
            self.timer = gevent.Timeout(self.head)
            self.timer.start()

    def __exit__(self, typ, value, tb) -> bool:
        _READING.pop(self.greenlet, None)
        self.timer.close()
        return value is self.timer  # our own expiry: swallowed, the caller sees no request and closes


_READING: dict = {}  # greenlet -> the RequestHeadTimeout of the head it is reading


class HeadTimedSocketUnreader(SocketUnreader):
    """gunicorn's socket reader, telling the head timeout of its greenlet when bytes arrive."""

    def chunk(self, size_hint=None):
        data = super().chunk(size_hint)
        if data:
            guard = _READING.get(gevent.getcurrent())
            if guard is not None:
                guard.first_bytes()
        return data


class JsonErrorGeventWorker(GeventWorker):
    """gunicorn's gevent worker whose own error responses are JSON, not HTML."""

    def init_process(self):
        cfg = self.cfg

        def write_error(sock, status_int, reason, mesg):
            body = error_body(status_int, reason, mesg, cfg)
            head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
            util.write_nonblock(sock, head.encode("latin-1") + body)

        # gunicorn's Worker.handle_error calls util.write_error at call time; this process is a
        # worker of ours, so its refusals are written as JSON.
        util.write_error = write_error
        http_parser.SocketUnreader = HeadTimedSocketUnreader  # the parser builds its reader from this name
        self.header_timeout = header_timeout(cfg.keepalive)
        super().init_process()

    def timeout_ctx(self):
        return RequestHeadTimeout(self.cfg.keepalive, self.header_timeout)


def header_timeout(keepalive: float) -> float:
    """GUNICORN_HEADER_TIMEOUT: seconds a client has to finish a request's head once it has begun."""
    raw = os.environ.get("GUNICORN_HEADER_TIMEOUT", "")
    try:
        value = float(raw) if raw else DEFAULT_HEADER_TIMEOUT
    except ValueError:
        raise SystemExit(f"invalid configuration: GUNICORN_HEADER_TIMEOUT={raw!r} is not a number of seconds") from None
    if not 0 < value <= keepalive:
        raise SystemExit(f"invalid configuration: GUNICORN_HEADER_TIMEOUT={value:g} must be above 0 and at most "
                         f"keepalive ({keepalive:g} s)")
    return value
