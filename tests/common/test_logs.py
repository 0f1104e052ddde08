"""The root JSON-lines handler: access lines batched off the request path, in order, bounded."""
from __future__ import annotations

import io
import json
import logging
import time

from services.common.logs import AccessLog, JsonFormatter, JsonLinesHandler


def _with_handler(handler):
    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers[:] = [handler]
    return root, saved


def test_access_lines_are_batched_written_in_order_and_bounded():
    out = io.StringIO()
    handler = JsonLinesHandler(out)
    handler.setFormatter(JsonFormatter())
    root, saved = _with_handler(handler)
    level = root.level
    root.setLevel(logging.INFO)
    try:
        access = AccessLog("services.http")
        access("GET", "/a", 200, 0.5, "id-1")
        assert out.getvalue() == ""  # waiting for the writer, not written by the request
        logging.getLogger("services.model").warning("other line")  # writes the waiting line first
        lines = [json.loads(line) for line in out.getvalue().splitlines()]
        assert [line.get("path", line["message"]) for line in lines] == ["/a", "other line"]
        access("GET", "/b", 200, 0.5, "id-2")
        deadline = time.monotonic() + 5
        while "/b" not in out.getvalue() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert json.loads(out.getvalue().splitlines()[-1])["path"] == "/b"  # the writer thread wrote it
        handler.FLUSH_SECONDS = 3600  # the writer asleep: the bound makes the request write
        time.sleep(JsonLinesHandler.FLUSH_SECONDS * 3)
        before = len(out.getvalue().splitlines())
        for i in range(JsonLinesHandler.MAX_PENDING):
            access("GET", f"/c{i}", 200, 0.5, "id")
        assert len(handler._pending) == 0
        assert len(out.getvalue().splitlines()) == before + JsonLinesHandler.MAX_PENDING
    finally:
        root.handlers[:] = saved
        root.setLevel(level)
