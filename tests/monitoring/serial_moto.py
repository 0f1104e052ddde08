"""moto's server, one request at a time: `python -m tests.monitoring.serial_moto PORT`.

DynamoDB applies each UpdateItem (ADD) and each transaction atomically; moto's threaded server
does not (two concurrent ADDs to one item can lose one). Serving one request at a time gives the
atomicity DynamoDB guarantees, which is what a test of counts from several workers relies on.
"""
from __future__ import annotations

import sys

from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple

if __name__ == "__main__":
    run_simple("127.0.0.1", int(sys.argv[1]), DomainDispatcherApplication(create_backend_app), threaded=False,
               request_handler=MotoRequestHandler)
