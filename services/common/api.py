"""Routes that declare their request and response schemas.

One pydantic model per body, query and response is both what the code validates with and
what /openapi.json publishes, so the two cannot drift apart.
"""
from __future__ import annotations

import functools
import json
import re
import sys
from dataclasses import dataclass, field
from types import UnionType
from typing import Annotated, Any, Callable, Union, get_args, get_origin

import orjson
from flask import Blueprint, Response, current_app, request
from pydantic import BaseModel, ConfigDict, Field, RootModel, ValidationError
from pydantic_core import to_json
from werkzeug.sansio.utils import get_content_length

from .errors import InputError


class ApiError(Exception):
    """An error answered as {"error": {"code", "message", "details"}} with its HTTP status."""

    def __init__(self, status: int, code: str, message: str, details: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


def invalid(field_name: str, problem: str, message: str | None = None, status: int = 400) -> ApiError:
    """A 400 naming one field and what it accepts."""
    return ApiError(status, "invalid_request", message or f"{field_name}: {problem}",
                    [{"field": field_name, "problem": problem}])


class RequestModel(BaseModel):
    """Base for JSON bodies: strict types, no NaN or infinity, unknown fields refused."""

    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)


class QueryModel(BaseModel):
    """Base for query strings: values arrive as text, so types are coerced (lax)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class ErrorDetail(BaseModel):
    field: str | None = None
    problem: str


class ErrorInfo(BaseModel):
    code: str
    message: str
    details: list[ErrorDetail] = Field(default_factory=list)


class ErrorResponse(BaseModel):
    error: ErrorInfo


def _field_path(loc: tuple) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += ("." if path else "") + str(part)
    return path


class LongNumber:
    """A JSON integer with more digits than Python converts (4,300): kept as a marker so the
    schema refuses it at its own field instead of the whole body failing to parse."""

    __slots__ = ("digits",)

    def __init__(self, digits: int):
        self.digits = digits

    def __repr__(self) -> str:
        return f"<number with {self.digits} digits>"


def validation_error(exc: ValidationError, where: str = "body", union_body: bool = False) -> ApiError:
    """A 400 naming every field pydantic refused. In a union body the first location is the
    branch's name, not a field, so it is dropped."""
    details = []
    for err in exc.errors(include_url=False):
        loc = err["loc"][1:] if union_body else err["loc"]
        problem = err["msg"].removeprefix("Value error, ")
        if err["type"] == "missing":
            problem = "required field is missing"
        elif err["type"] == "extra_forbidden":
            problem = "unknown field; see the schema in openapi.json"
        elif isinstance(err.get("input"), LongNumber):
            problem = f"a number with {err['input'].digits} digits is not accepted; see this field's range in openapi.json"
        details.append({"field": _field_path(loc) or where, "problem": problem})
    summary = "; ".join(f"{d['field']}: {d['problem']}" for d in details[:5])
    more = f" (+{len(details) - 5} more)" if len(details) > 5 else ""
    return ApiError(400, "invalid_request", f"invalid {where}: {summary}{more}", details)


class DuplicateKey(ValueError):
    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKey(key)
            seen.add(key)
    return obj


def _reject_constant(name: str) -> float:
    # NaN/Infinity are not JSON; keep them as floats so the schema rejects them by field name.
    return float(name.replace("Infinity", "inf"))


def _int_or_marker(text: str) -> int | LongNumber:
    digits = len(text.lstrip("-"))
    return int(text) if digits <= sys.get_int_max_str_digits() else LongNumber(digits)


_DECODE = json.JSONDecoder(object_pairs_hook=_unique_keys, parse_constant=_reject_constant).decode
_DECODE_LONG = json.JSONDecoder(object_pairs_hook=_unique_keys, parse_constant=_reject_constant,
                                parse_int=_int_or_marker).decode
JSON_TYPES = "application/json (or a +json type)"


def _too_large(limit: int, got: str) -> ApiError:
    return ApiError(413, "payload_too_large", f"request body exceeds {limit} bytes ({got})",
                    [{"field": "body", "problem": f"at most {limit} bytes (MAX_CONTENT_LENGTH); got {got}"}])


def read_body(req: Any = None) -> bytes:
    """The request body, at most MAX_CONTENT_LENGTH bytes, whether sent with Content-Length or chunked.

    Reads wsgi.input directly: a chunked body has no Content-Length to check up front, so it is
    read up to one byte past the limit (413 if it goes further). A malformed chunked encoding or a
    body cut short is the client's fault: a 400, never a 500.
    """
    req = req if req is not None else request._get_current_object()
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    environ = req.environ
    # what req.content_length answers, without building the request's header view first
    length = get_content_length(environ.get("CONTENT_LENGTH"), environ.get("HTTP_TRANSFER_ENCODING"))
    if length is not None and length > limit:
        raise _too_large(limit, f"Content-Length {length}")
    if length is None and not environ.get("wsgi.input_terminated"):
        return b""  # neither a length nor a server that ends the stream: nothing can be read safely
    stream = environ["wsgi.input"]
    try:
        if length is not None:
            data = stream.read(length) if length else b""
            if len(data) < length:
                raise ApiError(400, "invalid_body", f"request body ended after {len(data)} of {length} bytes",
                               [{"field": "body", "problem": f"Content-Length says {length} bytes; "
                                                            f"{len(data)} arrived"}])
            return data
        data = stream.read(limit + 1)
        while 0 < len(data) <= limit:
            more = stream.read(limit + 1 - len(data))
            if not more:
                break
            data += more
    except ApiError:
        raise
    except Exception as exc:  # the server's chunk parser (gunicorn) or a disconnect: the body is unreadable
        raise ApiError(400, "invalid_body", "request body could not be read: malformed chunked transfer "
                                            f"encoding or an early disconnect ({type(exc).__name__})",
                       [{"field": "body", "problem": "send a valid chunked encoding or a Content-Length"}]) from None
    if len(data) > limit:
        raise _too_large(limit, "chunked, longer than that")
    return data


_SLOW = object()
_LONG_DIGITS = re.compile(rb"[0-9]{19}")  # orjson turns an integer past 64 bits into a float: never let it


def _keys(value: Any) -> int:
    """How many keys the decoded objects of `value` hold, all levels."""
    if type(value) is dict:
        return len(value) + sum(_keys(v) for v in value.values() if type(v) in (dict, list))
    if type(value) is list:
        return sum(_keys(v) for v in value if type(v) in (dict, list))
    return 0


def _fast_decode(raw: bytes) -> Any:
    """The body decoded by orjson (C, ~1 us for a prediction's body; Python's decoder with the duplicate-key
    hook took ~6 us), or _SLOW when the Python decoder must answer: orjson refuses what it does not decode
    exactly as that decoder would (NaN, Infinity, lone surrogates, invalid JSON), a run of 19 digits (an
    integer past 64 bits, which orjson would make a float) goes to it too, and the body's colons must all be
    key separators of distinct keys. In valid JSON each key is followed by one colon, so a body with as many
    colons as decoded keys repeats none; a colon inside a string (a timestamp) makes the counts differ and
    sends the body to the Python decoder, which finds any duplicate itself."""
    if _LONG_DIGITS.search(raw) is not None:
        return _SLOW
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _SLOW
    try:
        if raw.count(b":") != _keys(value):
            return _SLOW
    except RecursionError:  # nested deeper than Python recurses: the Python decoder says so
        return _SLOW
    return value


def parse_json_body(req: Any = None) -> Any:
    """The body as JSON: Content-Type checked, size bounded, duplicate keys refused."""
    req = req if req is not None else request._get_current_object()
    # the usual header exactly as sent skips werkzeug's header parsing; anything else is parsed
    mimetype = "application/json" if req.environ.get("CONTENT_TYPE") == "application/json" else req.mimetype
    if mimetype != "application/json" and not (mimetype.startswith("application/") and mimetype.endswith("+json")):
        raise ApiError(415, "unsupported_media_type",
                       f"Content-Type must be application/json, got {mimetype or 'none'}",
                       [{"field": "Content-Type", "problem": f"accepted: {JSON_TYPES}; got {mimetype or 'none'}"}])
    raw = read_body(req)
    if not raw:
        raise ApiError(400, "invalid_request", "request body is empty; send a JSON object",
                       [{"field": "body", "problem": "required"}])
    fast = _fast_decode(raw)
    if fast is not _SLOW:
        return fast
    try:
        text = raw.decode()
        try:
            return _DECODE(text)
        except ValueError as exc:
            if "integer string conversion" not in str(exc):
                raise
            return _DECODE_LONG(text)
    except DuplicateKey as exc:
        raise ApiError(400, "invalid_json", f"request body repeats the key {exc.key!r}",
                       [{"field": exc.key, "problem": "duplicate key; send each key once"}]) from None
    except (ValueError, RecursionError) as exc:
        if isinstance(exc, RecursionError):
            problem = "nested too deeply"
        elif isinstance(exc, UnicodeDecodeError):
            problem = "not UTF-8 text"
        else:
            problem = f"not valid JSON ({exc})"
        raise ApiError(400, "invalid_json", f"request body is {problem}",
                       [{"field": "body", "problem": problem}]) from None


def parse_query(req: Any = None) -> dict[str, str]:
    """Query parameters as a dict; a parameter given twice is refused rather than silently resolved."""
    req = req if req is not None else request._get_current_object()
    data: dict[str, str] = {}
    for name, values in req.args.lists():
        if len(values) > 1:
            raise invalid(name, f"given {len(values)} times; send it once")
        data[name] = values[0]
    return data


def json_response(result: Any, status: int = 200) -> Response:
    """A JSON response from a pydantic model (serialised by pydantic-core) or plain data."""
    if isinstance(result, BaseModel):
        data = type(result).__pydantic_serializer__.to_json(result)
    else:
        data = to_json(result)
    return Response(data, status=status, content_type="application/json")  # as mimetype= gives, without its charset logic


@dataclass
class Operation:
    rule: str
    methods: tuple[str, ...]
    summary: str
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    response: type[BaseModel] | None
    status: int = 200
    needs_model: bool = True
    extra_statuses: tuple[int, ...] = ()
    # Statuses whose body is not the error shape (e.g. /ready's 503 carries a Ready body).
    other_bodies: dict[int, type[BaseModel]] = field(default_factory=dict)
    # A write route: needs one of the service's keys (services.common.auth); 401, 403 and 503 documented.
    write: bool = False

    def statuses(self, method: str) -> dict[int, type[BaseModel] | None]:
        """Every documented status of this operation and the schema of its body."""
        out: dict[int, type[BaseModel] | None] = {self.status: self.response}
        errors = set(self.extra_statuses)
        if self.query is not None or (self.body is not None and method in BODY_METHODS):
            errors.add(400)
        if self.body is not None and method in BODY_METHODS:
            errors |= {413, 415}
        if self.needs_model:
            errors.add(503)
        if self.write:
            errors |= {401, 403, 503}
        for code in sorted(errors):
            out[code] = ErrorResponse
        out.update(self.other_bodies)
        return out


BODY_METHODS = ("POST", "PUT", "PATCH")


@dataclass
class Api:
    """A service's routes: a Flask blueprint plus the schema of every operation."""

    service: str
    description: str = ""
    operations: list[Operation] = field(default_factory=list)
    # view name -> called with the view's validated request objects once it has answered, or refused
    # with a 4xx (what clients ask about either way): how monitoring sees requests, without a Flask hook.
    observers: dict[str, Callable[[dict[str, Any]], None]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.blueprint = Blueprint(f"{self.service}_api", __name__, url_prefix=f"/api/{self.service}")

    def route(self, rule: str, *, methods: tuple[str, ...] = ("GET",), summary: str = "",
              body: type[BaseModel] | None = None, query: type[BaseModel] | None = None,
              response: type[BaseModel] | None = None, status: int = 200, needs_model: bool = True,
              extra_statuses: tuple[int, ...] = (), write: bool = False) -> Callable:
        """Register a view. It is called with `query=<query model>` and, for a request with a body,
        `body=<body model>`: validated, typed objects (dates are dates), parsed once. It returns a
        pydantic model (preferred), plain data, or a Response. `write=True`: the request must carry one
        of the service's keys, checked before the body is read."""
        op = Operation(rule, tuple(methods), summary, body, query, response, status, needs_model, extra_statuses,
                       write=write)
        self.operations.append(op)
        union_body = body is not None and issubclass(body, RootModel) and _is_union(body)
        no_query: list[BaseModel] = []  # the query model of an empty query string, once it validated

        def decorator(view: Callable) -> Callable:
            @functools.wraps(view)
            def wrapper(**kwargs):
                req = request._get_current_object()
                if write:
                    current_app.extensions["write_keys"].check(req, current_app.extensions["known_services"])
                if query is not None:
                    if no_query and not req.environ.get("QUERY_STRING"):
                        kwargs["query"] = no_query[0]  # views read their query, never change it
                    else:
                        try:
                            kwargs["query"] = query.model_validate(parse_query(req))
                        except ValidationError as exc:
                            raise validation_error(exc, "query") from None
                        if not no_query and not req.environ.get("QUERY_STRING"):
                            no_query.append(kwargs["query"])
                if body is not None and req.method in BODY_METHODS:
                    payload = parse_json_body(req)
                    try:
                        kwargs["body"] = body.model_validate(payload)
                    except ValidationError as exc:
                        raise validation_error(exc, "body", union_body) from None
                observer = self.observers.get(view.__name__)
                if observer is None:
                    result = view(**kwargs)
                else:
                    try:
                        result = view(**kwargs)
                    except (ApiError, InputError) as exc:
                        if getattr(exc, "status", 400) < 500:   # refused by the view or the model
                            observer(kwargs)
                        raise
                    observer(kwargs)
                if isinstance(result, Response):
                    return result
                return json_response(result, status)

            self.blueprint.add_url_rule(rule, endpoint=view.__name__, view_func=wrapper, methods=list(methods))
            return wrapper

        return decorator


def _is_union(model: type[BaseModel]) -> bool:
    root = model.model_fields["root"].annotation
    return get_origin(root) in (Union, UnionType) or (
        get_origin(root) is Annotated and get_origin(get_args(root)[0]) in (Union, UnionType))


class ResponseSchemaError(RuntimeError):
    """A response that does not match its documented schema (checked in tests and VALIDATE_RESPONSES)."""


def check_response(op: Operation | None, method: str, status: int, mimetype: str | None, data: bytes) -> None:
    """Raise ResponseSchemaError unless the response is documented: its status, and its JSON body
    strictly valid against the declared schema with no undocumented field. Errors without a route
    (404, 405) must have the error shape."""
    if op is None:
        schemas: dict[int, type[BaseModel] | None] = {}
        schema = ErrorResponse if status >= 400 else None
    else:
        schemas = op.statuses(method)
        if status not in schemas and status != 500:
            raise ResponseSchemaError(f"{method} {op.rule}: status {status} is not documented "
                                      f"(documented: {sorted(schemas)})")
        schema = schemas.get(status, ErrorResponse)
    if schema is None:
        return
    if mimetype != "application/json":
        raise ResponseSchemaError(f"{method} {op.rule if op else ''} {status}: {mimetype}, documented JSON")
    extra = None if schema.model_config.get("extra") == "allow" else "forbid"
    try:
        schema.model_validate_json(data, strict=True, extra=extra)
    except ValidationError as exc:
        problems = "; ".join(f"{_field_path(e['loc']) or 'body'}: {e['msg']}" for e in exc.errors(include_url=False)[:5])
        raise ResponseSchemaError(f"{method} {op.rule if op else ''} {status}: does not match "
                                  f"{schema.__name__}: {problems}") from None


_ERROR_TEXT = {400: "Invalid input; details name each field", 401: "No valid key for this service",
               403: "A key for another service", 404: "Not found", 405: "Method not allowed",
               413: "Body too large", 415: "Body is not JSON",
               503: "No model loaded (or, on a write route, no key configured)"}


SECURITY_SCHEMES = {
    "bearerKey": {"type": "http", "scheme": "bearer", "description": "the service's write key"},
    "headerKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key", "description": "the same key"},
}


def openapi_document(api: Api, extra_ops: list[Operation], version: str) -> dict[str, Any]:
    """OpenAPI 3.1 generated from the declared pydantic models."""
    components: dict[str, Any] = {}

    def ref(model: type[BaseModel], mode: str) -> dict[str, str]:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}", mode=mode)
        for name, sub in schema.pop("$defs", {}).items():
            components.setdefault(name, sub)
        components.setdefault(model.__name__, schema)
        return {"$ref": f"#/components/schemas/{model.__name__}"}

    paths: dict[str, Any] = {}
    tags = [{"name": api.service, "description": api.description},
            {"name": "platform", "description": "what every service answers: health, readiness, model, docs, metrics"}]
    for op in [*api.operations, *extra_ops]:
        path = f"/api/{api.service}" + re.sub(r"<(?:[a-z]+:)?([A-Za-z_]+)>", r"{\1}", op.rule)
        tag = "platform" if op in extra_ops else api.service
        for method in op.methods:
            entry: dict[str, Any] = {"summary": op.summary, "tags": [tag], "operationId": f"{method.lower()}_{op.rule.strip('/').replace('/', '_').replace('-', '_') or 'root'}"}
            if op.body is not None and method in BODY_METHODS:
                entry["requestBody"] = {"required": True,
                                        "content": {"application/json": {"schema": ref(op.body, "validation")}}}
            if op.query is not None:
                schema = op.query.model_json_schema()
                required = set(schema.get("required", []))
                entry["parameters"] = [
                    {"name": name, "in": "query", "required": name in required, "schema": prop}
                    for name, prop in schema.get("properties", {}).items()
                ]
            entry["responses"] = {}
            for code, model in op.statuses(method).items():
                answer: dict[str, Any] = {"description": "OK" if code == op.status else _ERROR_TEXT.get(code, "Error")}
                if model is not None:
                    answer["content"] = {"application/json": {"schema": ref(model, "serialization")}}
                entry["responses"][str(code)] = answer
            if op.write:
                entry["security"] = [{"bearerKey": []}, {"headerKey": []}]
            paths.setdefault(path, {})[method.lower()] = entry
    return {
        "openapi": "3.1.0",
        "info": {"title": f"{api.service} service", "version": version, "description": api.description},
        "tags": tags,
        "paths": paths,
        "components": {"schemas": components, "securitySchemes": SECURITY_SCHEMES},
    }


def current_model():
    """The loaded model, or a 503 that says why there is none.

    A request that reaches a worker whose first model load is still under way waits for it (up to
    MODEL_START_WAIT_SECONDS), so a starting task's second worker does not answer 503 while its
    first is ready; /health and /ready never wait.
    """
    holder = current_app.extensions["model_holder"]
    loaded = holder.current
    if loaded is None:
        loaded = holder.wait_first_load(current_app.extensions["settings"].model_start_wait_seconds)
        if loaded is None:
            raise ApiError(503, "model_unavailable", f"no model loaded: {holder.reason()}")
    return loaded
