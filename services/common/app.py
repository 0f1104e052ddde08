"""The application factory every service uses.

`create_service_app` gives a service its platform routes (/health, /ready, /model,
/openapi.json, /metrics), JSON errors, request ids, JSON logs, CORS from configuration,
and a ModelHolder that loads and hot-swaps the service's model. Nothing runs at import.
"""
from __future__ import annotations

import logging
import time
import uuid
from typing import Any, Callable

from flask import Flask, Response, g, jsonify, request
from flask_cors import CORS
from pydantic import BaseModel, ConfigDict
from werkzeug.exceptions import HTTPException

from . import metrics
from .api import Api, ApiError, Operation, current_model, invalid, openapi_document
from .config import Settings, load_settings
from .errors import InputError
from .holder import Loader, ModelHolder
from .logs import configure_logging
from .store import ModelStore

log = logging.getLogger("services.http")

_HTTP_CODES = {400: "invalid_request", 404: "not_found", 405: "method_not_allowed",
               413: "payload_too_large", 415: "unsupported_media_type", 429: "too_many_requests"}


class Health(BaseModel):
    status: str
    service: str


class Ready(BaseModel):
    status: str
    service: str
    model_version: str | None = None
    reason: str | None = None


class ModelInfo(BaseModel):
    model_config = ConfigDict(extra="allow")
    service: str
    version: str
    metrics: dict[str, Any]


def error_response(exc: ApiError) -> Response:
    resp = jsonify(exc.body())
    resp.status_code = exc.status
    return resp


def _request_id() -> str:
    supplied = request.headers.get("X-Request-ID") or request.headers.get("X-Amzn-Trace-Id") or ""
    supplied = supplied.strip()
    if supplied and len(supplied) <= 200 and supplied.isprintable():
        return supplied
    return uuid.uuid4().hex


def create_service_app(
    api: Api,
    loader: Loader,
    settings: Settings | None = None,
    *,
    start_model_refresh: bool = True,
    extensions: dict[str, Any] | None = None,
    on_ready_check: Callable[[], str | None] | None = None,
) -> Flask:
    """Build a Flask app for one service.

    `loader(directory, manifest)` turns a verified version folder into the object the
    service's views use (via `current_model()`); it must not unpickle anything.
    `on_ready_check` may return a reason the service is not ready (e.g. its state store).
    """
    settings = settings or load_settings()
    configure_logging(settings.log_level)
    service = api.service
    app = Flask(f"services.{service}", static_folder=None)
    app.debug = False  # Flask reads FLASK_DEBUG from the environment; production never runs in debug mode
    app.config.update(MAX_CONTENT_LENGTH=settings.max_content_length, JSON_SORT_KEYS=False)
    app.json.sort_keys = False
    app.json.compact = True

    store = ModelStore(settings.model_store_uri, settings.model_cache_dir)
    holder: ModelHolder = ModelHolder(service, store, loader, settings.model_refresh_seconds)
    app.extensions["settings"] = settings
    app.extensions["model_store"] = store
    app.extensions["model_holder"] = holder
    app.extensions.update(extensions or {})

    platform_ops = [
        Operation("/health", ("GET",), "Liveness: 200 while the process runs", None, None, Health, needs_model=False),
        Operation("/ready", ("GET",), "Readiness: 200 once a model is loaded, else 503 with a reason",
                  None, None, Ready, needs_model=True),
        Operation("/model", ("GET",), "The loaded model's manifest: version, metrics, baselines",
                  None, None, ModelInfo),
        Operation("/openapi.json", ("GET",), "This document", None, None, None, needs_model=False),
        Operation("/metrics", ("GET",), "Prometheus metrics (text)", None, None, None, needs_model=False),
    ]
    prefix = f"/api/{service}"

    @app.get(f"{prefix}/health")
    def health():
        return jsonify(Health(status="ok", service=service).model_dump())

    @app.get(f"{prefix}/ready")
    def ready():
        loaded = holder.current
        reason = None if loaded else f"no model loaded: {holder.last_error or 'loading'}"
        if reason is None and on_ready_check is not None:
            reason = on_ready_check()
        body = Ready(status="ready" if reason is None else "not_ready", service=service,
                     model_version=loaded.version if loaded else None, reason=reason)
        resp = jsonify(body.model_dump())
        resp.status_code = 200 if reason is None else 503
        return resp

    @app.get(f"{prefix}/model")
    def model():
        return jsonify(current_model().manifest)

    @app.get(f"{prefix}/openapi.json")
    def openapi():
        loaded = holder.current
        return jsonify(openapi_document(api, platform_ops, loaded.version if loaded else "unloaded"))

    @app.get(f"{prefix}/metrics")
    def prometheus():
        payload, content_type = metrics.render()
        return Response(payload, content_type=content_type)

    app.register_blueprint(api.blueprint)

    if settings.cors_origin_list:
        CORS(app, resources={f"{prefix}/*": {"origins": settings.cors_origin_list}},
             expose_headers=["X-Request-ID"], max_age=600)

    metric_series: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    @app.before_request
    def _start() -> None:
        g.request_id = _request_id()
        g.started = time.perf_counter()

    @app.after_request
    def _finish(resp: Response) -> Response:
        resp.headers["X-Request-ID"] = g.get("request_id", "")
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        elapsed = time.perf_counter() - g.get("started", time.perf_counter())
        key = (endpoint, request.method, resp.status_code)
        series = metric_series.get(key)
        if series is None:  # labels() locks and hashes every call; the children never change
            series = metric_series[key] = (
                metrics.REQUESTS.labels(service, endpoint, request.method, str(resp.status_code)),
                metrics.LATENCY.labels(service, endpoint))
        series[0].inc()
        series[1].observe(elapsed)
        if resp.status_code >= 500 or log.isEnabledFor(logging.DEBUG):
            log.log(logging.ERROR if resp.status_code >= 500 else logging.DEBUG, "request",
                    extra={"method": request.method, "path": request.path, "status": resp.status_code,
                           "ms": round(elapsed * 1000, 2)})
        return resp

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return error_response(exc)

    @app.errorhandler(InputError)
    def _input_error(exc: InputError):
        return error_response(invalid(exc.field, exc.problem))

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        status = exc.code or 500
        message = exc.description or exc.name
        if status == 413:
            message = f"request body exceeds {settings.max_content_length} bytes"
        elif status == 405:
            message = f"{request.method} is not allowed here; allowed: {', '.join(sorted(exc.valid_methods or []))}"
        elif status == 404:
            message = f"no route {request.path}; see {prefix}/openapi.json"
        resp = error_response(ApiError(status, _HTTP_CODES.get(status, "http_error"), message))
        if status == 405 and getattr(exc, "valid_methods", None):
            resp.headers["Allow"] = ", ".join(exc.valid_methods)
        return resp

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error", extra={"path": request.path})
        return error_response(ApiError(500, "internal_error", f"internal error; request id {g.get('request_id')}"))

    if start_model_refresh:
        holder.start(wait_seconds=settings.model_start_wait_seconds)
    return app
