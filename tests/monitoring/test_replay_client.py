"""The replay client's retry: a 503 (a store briefly unavailable) is asked again; other refusals are not."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from services.common import replay


def serve(statuses: list[int]):
    seen: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            status = statuses[min(len(seen), len(statuses) - 1)]
            seen.append(status)
            body = json.dumps({"error": {"message": "store down"}} if status >= 400 else {"status": "stored"}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}/x", seen


def test_a_503_is_tried_again_and_a_400_is_not(capsys):
    server, url, seen = serve([503, 201])
    assert replay.call(url, {"a": 1}) == (201, {"status": "stored"}) and seen == [503, 201]
    server.shutdown()
    server, url, seen = serve([400])
    assert replay.call(url, {"a": 1})[0] == 400 and seen == [400]
    server.shutdown()
    server, url, seen = serve([503])
    assert replay.call(url, {"a": 1})[0] == 503 and seen == [503, 503, 503]
    assert "HTTP 503 after 3 attempt(s): store down" in capsys.readouterr().out
    server.shutdown()
