"""Routes that declare their request and response schemas.

One pydantic model per body, query and response is both what the code validates with and
what /openapi.json publishes, so the two cannot drift apart.
"""
from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from flask import Blueprint, current_app, jsonify, request
from pydantic import BaseModel, ConfigDict, Field, ValidationError


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
    return path or "body"


def validation_error(exc: ValidationError, where: str = "body") -> ApiError:
    details = []
    for err in exc.errors(include_url=False):
        loc = err["loc"]
        problem = err["msg"].removeprefix("Value error, ")
        if err["type"] == "missing":
            problem = "required field is missing"
        elif err["type"] == "extra_forbidden":
            problem = "unknown field; see the schema in openapi.json"
        details.append({"field": _field_path(loc) if loc else where, "problem": problem})
    summary = "; ".join(f"{d['field']}: {d['problem']}" for d in details[:5])
    return ApiError(400, "invalid_request", f"invalid {where}: {summary}", details)


def _reject_constant(name: str) -> float:
    # NaN/Infinity are not JSON; keep them as floats so the schema rejects them by field name.
    return float(name.replace("Infinity", "inf"))


def parse_json_body() -> Any:
    if not request.mimetype or request.mimetype != "application/json" and not request.mimetype.endswith("+json"):
        raise ApiError(415, "unsupported_media_type",
                       f"Content-Type must be application/json, got {request.mimetype or 'none'}")
    raw = request.get_data(cache=True)
    if not raw:
        raise ApiError(400, "invalid_request", "request body is empty; send a JSON object",
                       [{"field": "body", "problem": "required"}])
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        problem = "nested too deeply" if isinstance(exc, RecursionError) else f"not valid JSON ({exc})"
        raise ApiError(400, "invalid_json", f"request body is {problem}",
                       [{"field": "body", "problem": problem}]) from None


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


@dataclass
class Api:
    """A service's routes: a Flask blueprint plus the schema of every operation."""

    service: str
    description: str = ""
    operations: list[Operation] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.blueprint = Blueprint(f"{self.service}_api", __name__, url_prefix=f"/api/{self.service}")

    def route(self, rule: str, *, methods: tuple[str, ...] = ("GET",), summary: str = "",
              body: type[BaseModel] | None = None, query: type[BaseModel] | None = None,
              response: type[BaseModel] | None = None, status: int = 200, needs_model: bool = True,
              extra_statuses: tuple[int, ...] = ()) -> Callable:
        op = Operation(rule, tuple(methods), summary, body, query, response, status, needs_model, extra_statuses)
        self.operations.append(op)

        def decorator(view: Callable) -> Callable:
            @functools.wraps(view)
            def wrapper(**path_args):
                kwargs: dict[str, Any] = dict(path_args)
                if query is not None:
                    try:
                        kwargs["query"] = query.model_validate(request.args.to_dict(flat=True))
                    except ValidationError as exc:
                        raise validation_error(exc, "query") from None
                if body is not None and request.method in ("POST", "PUT", "PATCH"):
                    payload = parse_json_body()
                    try:
                        kwargs["body"] = body.model_validate(payload)
                    except ValidationError as exc:
                        raise validation_error(exc, "body") from None
                result = view(**kwargs)
                if isinstance(result, BaseModel):
                    result = result.model_dump(mode="json")
                resp = jsonify(result)
                resp.status_code = status
                return resp

            self.blueprint.add_url_rule(rule, endpoint=view.__name__, view_func=wrapper, methods=list(methods))
            return wrapper

        return decorator


_ERROR_TEXT = {400: "Invalid input; details name each field", 404: "Not found", 405: "Method not allowed",
               413: "Body too large", 415: "Body is not JSON", 503: "No model loaded"}


def openapi_document(api: Api, extra_ops: list[Operation], version: str) -> dict[str, Any]:
    """OpenAPI 3.1 generated from the declared pydantic models."""
    components: dict[str, Any] = {}

    def ref(model: type[BaseModel], mode: str) -> dict[str, str]:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}", mode=mode)
        for name, sub in schema.pop("$defs", {}).items():
            components.setdefault(name, sub)
        components.setdefault(model.__name__, schema)
        return {"$ref": f"#/components/schemas/{model.__name__}"}

    error_ref = ref(ErrorResponse, "serialization")
    paths: dict[str, Any] = {}
    for op in [*extra_ops, *api.operations]:
        path = f"/api/{api.service}" + re.sub(r"<(?:[a-z]+:)?([A-Za-z_]+)>", r"{\1}", op.rule)
        for method in op.methods:
            entry: dict[str, Any] = {"summary": op.summary, "operationId": f"{method.lower()}_{op.rule.strip('/').replace('/', '_').replace('-', '_') or 'root'}"}
            statuses = {400} if (op.body or op.query) else set()
            if op.body is not None and method in ("POST", "PUT", "PATCH"):
                entry["requestBody"] = {"required": True,
                                        "content": {"application/json": {"schema": ref(op.body, "validation")}}}
                statuses |= {413, 415}
            if op.query is not None:
                schema = op.query.model_json_schema()
                required = set(schema.get("required", []))
                entry["parameters"] = [
                    {"name": name, "in": "query", "required": name in required, "schema": prop}
                    for name, prop in schema.get("properties", {}).items()
                ]
            ok: dict[str, Any] = {"description": "OK"}
            if op.response is not None:
                ok["content"] = {"application/json": {"schema": ref(op.response, "serialization")}}
            entry["responses"] = {str(op.status): ok}
            if op.needs_model:
                statuses.add(503)
            statuses |= set(op.extra_statuses)
            for code in sorted(statuses):
                entry["responses"][str(code)] = {"description": _ERROR_TEXT.get(code, "Error"),
                                                 "content": {"application/json": {"schema": error_ref}}}
            paths.setdefault(path, {})[method.lower()] = entry
    return {
        "openapi": "3.1.0",
        "info": {"title": f"{api.service} service", "version": version, "description": api.description},
        "paths": paths,
        "components": {"schemas": components},
    }


def current_model():
    """The loaded model, or a 503 that says why there is none."""
    holder = current_app.extensions["model_holder"]
    loaded = holder.current
    if loaded is None:
        raise ApiError(503, "model_unavailable", f"no model loaded: {holder.last_error or 'loading'}")
    return loaded
