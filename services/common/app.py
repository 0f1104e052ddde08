"""The application factory every service uses.

`create_service_app` gives a service its platform routes (/health, /ready, /model,
/openapi.json, /docs, /metrics), JSON errors, request ids, one JSON log line per request,
CORS from configuration, and a ModelHolder that loads and hot-swaps the service's model.
Nothing runs at import.
"""
from __future__ import annotations

import logging
import random
import time
from pathlib import Path
from typing import Any, Callable

import orjson
from flask import Flask, Request, Response, request, send_from_directory
from flask.json.provider import DefaultJSONProvider
from flask.sessions import NullSession, SecureCookieSessionInterface
from flask_cors import CORS
from pydantic import BaseModel, ConfigDict
from werkzeug.exceptions import HTTPException

from . import metrics, monitoring
from .auth import WriteKeys
from .api import (_LONG_DIGITS, Api, ApiError, Operation, ResponseSchemaError, check_response, current_model,
                  invalid, json_response, openapi_document)
from .config import Settings, load_settings
from .errors import InputError
from .holder import Loader, ModelHolder
from .registry import load_registry
from .logs import REQUEST_ID_KEY, AccessLog, configure_logging
from .store import ModelStore

log = logging.getLogger("services.http")
DOCS_DIR = Path(__file__).resolve().parent / "docs"

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
    store: str = "the model store (MODEL_STORE_URI) this worker reads"
    last_error: str | None = None
    degraded: str | None = None


class ModelInfo(BaseModel):
    model_config = ConfigDict(extra="allow")
    service: str
    version: str
    metrics: dict[str, Any]


class OrjsonProvider(DefaultJSONProvider):
    """Flask's JSON (`jsonify`, `request.get_json`, `app.json`) through orjson: compact, keys in insertion
    order, and what orjson does not write itself (dates, dataclasses, Decimal, UUID, `__html__`) through
    Flask's own default, so a value is written as Flask writes it, except NaN and infinities: null (valid
    JSON) where Flask wrote NaN. The service routes serialise their pydantic models with pydantic-core
    (api.json_response) and read bodies with api.parse_json_body; this is everything else on the app."""

    _OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return self.dumps_bytes(obj).decode()

    def dumps_bytes(self, obj: Any) -> bytes:
        try:
            return orjson.dumps(obj, default=DefaultJSONProvider.default, option=self._OPTIONS)
        except TypeError:  # what orjson refuses outright (an int past 64 bits, a non-str key it cannot write)
            return super().dumps(obj, separators=(",", ":")).encode()

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """orjson where it decodes as Python's json does; NaN, Infinity, integers past 64 bits (orjson makes
        them floats) and what orjson refuses go to Flask's decoder, which answers as before."""
        if not kwargs and _LONG_DIGITS.search(s.encode() if isinstance(s, str) else s) is None:
            try:
                return orjson.loads(s)
            except orjson.JSONDecodeError:
                pass
        return super().loads(s, **kwargs)

    def response(self, *args: Any, **kwargs: Any) -> Response:
        return self._app.response_class(self.dumps_bytes(self._prepare_response_obj(args, kwargs)) + b"\n",
                                        mimetype=self.mimetype)


class NoSessions(SecureCookieSessionInterface):
    """The services keep no session (no cookie, no secret key): Flask's default interface looked for a
    signing key and made a NullSession on every request. One read-only NullSession serves them all."""

    _null = NullSession()

    def open_session(self, app: Flask, request: Request) -> NullSession:
        return self._null

    def save_session(self, app: Flask, session: Any, response: Response) -> None:
        return None


def error_response(exc: ApiError) -> Response:
    resp = json_response(exc.body(), exc.status)
    resp.headers.update(getattr(exc, "headers", {}))
    return resp


DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{service} API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<script type="module" src="{prefix}/docs/{script}"></script></head>
<body><rapi-doc spec-url="{prefix}/openapi.json" render-style="read" show-header="false" allow-authentication="false"
  load-fonts="false" regular-font="system-ui, sans-serif" mono-font="monospace"
  allow-server-selection="false" schema-expand-level="2"
  heading-text="{service} API"></rapi-doc></body></html>
"""
# Everything from this origin only (the viewer would otherwise fetch web fonts from a CDN).
DOCS_CSP = ("default-src 'none'; script-src 'self'; connect-src 'self'; img-src 'self' data:; "
            "style-src 'self' 'unsafe-inline'; font-src 'self'")
DOCS_SCRIPT = "rapidoc-min.js"  # vendored, pinned: scripts/vendor_frontend.sh, services/common/docs/VERSIONS.txt


def create_service_app(
    api: Api,
    loader: Loader,
    settings: Settings | None = None,
    *,
    start_model_refresh: bool = True,
    extensions: dict[str, Any] | None = None,
    on_ready_check: Callable[[], str | None] | None = None,
    degraded_check: Callable[[], str | None] | None = None,
) -> Flask:
    """Build a Flask app for one service.

    `loader(directory, manifest)` turns a verified version folder into the object the
    service's views use (via `current_model()`); it must not unpickle anything.
    `on_ready_check` may return a reason the service is not ready (e.g. its state store).
    `degraded_check` may return a problem that does not make this task unready (a dependency every
    task shares, e.g. a slow DynamoDB call): /ready stays 200 with status "degraded" and the
    problem, so the load balancer does not replace every task for something none of them can fix.
    """
    settings = settings or load_settings()
    configure_logging(settings.log_level)
    service = api.service
    app = Flask(f"services.{service}", static_folder=None)
    app.request_class = ServiceRequest
    app.debug = False  # Flask reads FLASK_DEBUG from the environment; production never runs in debug mode
    app.config.update(MAX_CONTENT_LENGTH=settings.max_content_length, JSON_SORT_KEYS=False)
    app.json = OrjsonProvider(app)
    app.session_interface = NoSessions()
    app.json.sort_keys = False
    app.json.compact = True

    store = ModelStore(settings.model_store_uri, settings.model_cache_dir)
    holder: ModelHolder = ModelHolder(service, store, loader, settings.model_refresh_seconds)
    app.extensions["settings"] = settings
    app.extensions["model_store"] = store
    app.extensions["model_holder"] = holder
    app.extensions["api"] = api
    app.extensions["api_operations"] = api.operations
    app.extensions["known_services"] = tuple(s.name for s in load_registry().services)
    app.extensions["write_keys"] = WriteKeys.from_environment(service)
    app.extensions.update(extensions or {})

    platform_ops = [
        Operation("/health", ("GET",), "Liveness: 200 while the process runs (never waits on the model store)",
                  None, None, Health, needs_model=False),
        Operation("/ready", ("GET",), "Readiness: 200 once a model is loaded, else 503 naming the store and "
                  "the last error", None, None, Ready, needs_model=True, other_bodies={503: Ready}),
        Operation("/model", ("GET",), "The loaded model's manifest: version, metrics, baselines",
                  None, None, ModelInfo),
        Operation("/openapi.json", ("GET",), "This document", None, None, None, needs_model=False),
        Operation("/docs", ("GET",), "This document for people (RapiDoc, vendored and pinned)", None, None, None,
                  needs_model=False),
        Operation("/metrics", ("GET",), "Prometheus metrics (text)", None, None, None, needs_model=False),
    ]
    prefix = f"/api/{service}"
    health_body = Health(status="ok", service=service)

    @app.get(f"{prefix}/health")
    def health():
        return json_response(health_body)

    @app.get(f"{prefix}/ready")
    def ready():
        loaded = holder.current
        reason = None if loaded else f"no model loaded: {holder.reason()}"
        if reason is None and on_ready_check is not None:
            reason = on_ready_check()
        degraded = degraded_check() if reason is None and degraded_check is not None else None
        body = Ready(status="not_ready" if reason else "degraded" if degraded else "ready", service=service,
                     model_version=loaded.version if loaded else None, reason=reason, store=store.uri,
                     last_error=holder.last_error, degraded=degraded)
        return json_response(body, 200 if reason is None else 503)

    @app.get(f"{prefix}/model")
    def model():
        return json_response(current_model().manifest)

    @app.get(f"{prefix}/openapi.json")
    def openapi():
        loaded = holder.current
        return json_response(openapi_document(api, platform_ops, loaded.version if loaded else "unloaded"))

    @app.get(f"{prefix}/docs")
    def docs():
        page = DOCS_PAGE.format(service=service, prefix=prefix, script=DOCS_SCRIPT)
        resp = Response(page, mimetype="text/html")
        resp.headers["Content-Security-Policy"] = DOCS_CSP
        return resp

    @app.get(f"{prefix}/docs/<path:name>")
    def docs_asset(name: str):
        return send_from_directory(DOCS_DIR, name, max_age=86400)

    @app.get(f"{prefix}/metrics")
    def prometheus():
        payload, content_type = metrics.render()
        return Response(payload, content_type=content_type)

    monitoring.mount(app, api, holder, store)  # when the service has a monitoring module: its routes and hooks
    app.register_blueprint(api.blueprint)

    if settings.cors_origin_list:
        CORS(app, resources={f"{prefix}/*": {"origins": settings.cors_origin_list}},
             expose_headers=["X-Request-ID"], max_age=600)

    operations = {(op.rule, method): op for op in [*platform_ops, *api.operations] for method in op.methods}
    rule_prefix = len(prefix)
    if settings.validate_responses:
        @app.after_request
        def _check(resp: Response) -> Response:
            return _checked(resp)

    def _checked(resp: Response) -> Response:
        """VALIDATE_RESPONSES (tests, debugging): a response off its documented schema becomes a 500."""
        if request.method in ("OPTIONS", "HEAD") or resp.direct_passthrough:
            return resp
        rule = request.url_rule
        op = operations.get((rule.rule[rule_prefix:], request.method)) if rule is not None else None
        try:
            check_response(op, request.method, resp.status_code, resp.mimetype, resp.get_data())
        except ResponseSchemaError as exc:
            log.error("response does not match its schema", extra={"problem": str(exc)})
            return error_response(ApiError(500, "response_schema_mismatch", str(exc)))
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
        details: list[dict[str, Any]] = []
        if status == 413:
            message = f"request body exceeds {settings.max_content_length} bytes"
            details = [{"field": "body", "problem": f"at most {settings.max_content_length} bytes (MAX_CONTENT_LENGTH)"}]
        elif status == 405:
            allowed = ", ".join(sorted(exc.valid_methods or []))
            message = f"{request.method} is not allowed here; allowed: {allowed}"
            details = [{"field": "method", "problem": f"accepted: {allowed}"}]
        elif status == 404:
            message = f"no route {request.path}; see {prefix}/openapi.json"
        resp = error_response(ApiError(status, _HTTP_CODES.get(status, "http_error"), message, details))
        if status == 405 and getattr(exc, "valid_methods", None):
            resp.headers["Allow"] = ", ".join(exc.valid_methods)
        return resp

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error", extra={"path": request.path})
        request_id = request.environ.get(REQUEST_ID_KEY)
        return error_response(ApiError(500, "internal_error", f"internal error; request id {request_id}"))

    app.wsgi_app = RequestTelemetry(app.wsgi_app, service)
    if start_model_refresh:
        holder.start()
    return app


_random_bits = random.Random().getrandbits  # request ids must be unique, not secret
_REQUEST_KEY = "services.request"
# The method label of the request metrics: a client may send any token as its method, and each new one
# would be a new series kept for the process's life; the rest are counted as "other".
METRIC_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class ServiceRequest(Request):
    """Flask's request, also kept in the environ so the WSGI layer can read its matched rule after
    Flask has popped the request context (Flask clears environ["werkzeug.request"] then)."""

    def __init__(self, environ: dict, *args, **kwargs):
        super().__init__(environ, *args, **kwargs)
        environ[_REQUEST_KEY] = self


class RequestTelemetry:
    """The WSGI layer around a service's Flask app: request id, X-Request-ID, metrics, access line.

    Outside Flask's hooks, so it costs one function call per request and sees every answer,
    errors included. The id comes from X-Request-ID or the ALB's X-Amzn-Trace-Id when printable
    and at most 200 characters, else it is made; it is kept in the environ for log lines.
    """

    def __init__(self, wsgi_app: Callable, service: str):
        self.wsgi_app = wsgi_app
        self.service = service
        self.access = AccessLog("services.http")
        self.log_all = self.access.enabled()
        self.series: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def __call__(self, environ: dict, start_response: Callable):
        started = time.perf_counter()
        request_id = environ.get("HTTP_X_REQUEST_ID") or environ.get("HTTP_X_AMZN_TRACE_ID")
        if request_id:
            request_id = request_id.strip()
            if not (request_id and len(request_id) <= 200 and request_id.isprintable()):
                request_id = None
        if not request_id:
            request_id = f"{_random_bits(128):032x}"
        environ[REQUEST_ID_KEY] = request_id
        statuses: list[str] = []

        def start(status: str, headers: list, exc_info=None):
            headers.append(("X-Request-ID", request_id))
            statuses.append(status)
            return start_response(status, headers, exc_info)

        body = self.wsgi_app(environ, start)
        elapsed = time.perf_counter() - started
        status = int(statuses[-1][:3]) if statuses else 500
        req = environ.pop(_REQUEST_KEY, None)  # popped: no environ <-> request cycle left for the GC
        rule = req.url_rule if req is not None else None
        endpoint = rule.rule if rule is not None else "unmatched"
        method = environ.get("REQUEST_METHOD", "")
        key = (endpoint, method if method in METRIC_METHODS else "other", status)
        series = self.series.get(key)
        if series is None:  # labels() locks and hashes every call; the children never change
            series = self.series[key] = (metrics.REQUESTS.labels(self.service, endpoint, key[1], str(status)),
                                         metrics.LATENCY.labels(self.service, endpoint))
        series[0].inc()
        series[1].observe(elapsed)
        path = environ.get("PATH_INFO", "")
        if not path.isascii():  # WSGI carries the path as latin-1 text of its UTF-8 bytes
            path = path.encode("latin-1").decode("utf-8", "replace")
        ms = round(elapsed * 1000, 2)
        if status >= 500:  # 503 (no model yet, not ready) is expected at start: a warning, not an error
            log.log(logging.WARNING if status == 503 else logging.ERROR, "request",
                    extra={"method": method, "path": path, "status": status, "ms": ms, "request_id": request_id})
        elif self.log_all:
            self.access(method, path, status, ms, request_id)
        return body
