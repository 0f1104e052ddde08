"""The gunicorn worker every service runs: gevent, with gunicorn's own error pages as JSON.

Why gevent (measured, docs/architecture.md): a sync worker, or a gthread worker with fewer threads
than there are slow clients, is held by a client that sends its headers byte by byte; with 50 such
clients normal requests stopped being answered. A gevent worker gives each connection a greenlet,
so slow and idle clients cost a few kilobytes each, and gunicorn bounds the time to receive a
request's headers by `keepalive` (gevent.Timeout around the parser).

gunicorn answers requests it cannot parse (400), a request line over `limit_request_line` (414) and
too many or too large headers (431) itself, with an HTML page, before the app sees them. This
worker writes the platform's JSON error shape instead.
"""
from __future__ import annotations

import json

from gunicorn import util
from gunicorn.workers.ggevent import GeventWorker

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
        super().init_process()
