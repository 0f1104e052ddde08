"""Local gateway: every built service's app at its ALB path, and frontend/ at /.

Only for `make run` and tests; in AWS the ALB routes /api/<service>/* to each service's
own tasks. Services without a package yet are skipped with a log line.
"""
from __future__ import annotations

import importlib
import importlib.util
import logging
from pathlib import Path
from typing import Callable

from flask import Flask, jsonify, send_from_directory

from services.common.config import Settings, load_settings
from services.common.logs import configure_logging
from services.common.registry import load_registry

log = logging.getLogger("services.gateway")
FRONTEND = Path(__file__).resolve().parent.parent / "frontend"


def built_services() -> list[str]:
    """Registry services whose package has an api module."""
    names = []
    for entry in load_registry().services:
        if importlib.util.find_spec(f"services.{entry.name}") and importlib.util.find_spec(f"services.{entry.name}.api"):
            names.append(entry.name)
    return names


def frontend_app(frontend: Path, services: list[str]) -> Flask:
    app = Flask("frontend", static_folder=None)
    app.debug = False

    @app.get("/")
    def index():
        return send_from_directory(frontend, "index.html")

    @app.get("/api/services")
    def services_list():
        return jsonify({"services": services})

    @app.get("/<path:name>")
    def asset(name: str):
        return send_from_directory(frontend, name)

    @app.errorhandler(404)
    def not_found(_exc):
        return jsonify({"error": {"code": "not_found", "message": "no such page or service", "details": []}}), 404

    @app.errorhandler(405)
    def not_allowed(_exc):
        return jsonify({"error": {"code": "method_not_allowed", "message": "method not allowed", "details": []}}), 405

    return app


class PathDispatcher:
    """WSGI: /api/<service>/... goes to that service's app unchanged; the rest to the frontend."""

    def __init__(self, default: Callable, apps: dict[str, Callable]):
        self.default = default
        self.apps = {f"/api/{name}": app for name, app in apps.items()}

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        for prefix, app in self.apps.items():
            if path == prefix or path.startswith(prefix + "/"):
                return app(environ, start_response)
        return self.default(environ, start_response)


def create_app(settings: Settings | None = None, services: list[str] | None = None, **kwargs) -> PathDispatcher:
    settings = settings or load_settings()
    configure_logging(settings.log_level)
    names = built_services() if services is None else services
    apps = {}
    for name in names:
        module = importlib.import_module(f"services.{name}.api")
        apps[name] = module.create_app(settings, **kwargs)
    skipped = sorted(set(load_registry().names()) - set(names))
    log.info("gateway mounted services", extra={"services": names, "skipped": skipped})
    dispatcher = PathDispatcher(frontend_app(FRONTEND, names), apps)
    dispatcher.service_apps = apps
    return dispatcher
