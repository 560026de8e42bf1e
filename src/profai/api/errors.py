"""One error shape for every failure: {"code", "message", "detail"} with a fitting status, and
the OpenAPI document's account of it (schemas.errors.ErrorBody for every 4xx answer)."""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from profai.errors import ProfAIError, TooManyRequests, Unauthorized
from profai.schemas.errors import ErrorBody, FieldProblem

log = logging.getLogger(__name__)

HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}
# The methods an `Allow` header may list, in the order it lists them.
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")

# Each error status the API answers with, as the OpenAPI document explains it.
ERROR_STATUSES = {
    400: "Bad request: a Host this server does not answer for (ALLOWED_HOSTS), a NUL byte in the address, or a "
         "body that is not the JSON it claims to be",
    401: "No identity, or one no longer valid (signed out, revoked key, disabled user): sign in, or send an API key",
    403: "Not allowed: this role may not do it, or a request signed in by cookie came from another site's page",
    404: "Not found, or not yours to see",
    408: "The upload stalled: nothing arrived for a while",
    409: "Conflicts with the current state",
    413: "The request body, or an uploaded file, is over its size limit",
    415: "The body or file is not of a kind this operation accepts",
    422: "The request is not valid; when its parameters or body failed validation, `errors` lists each field "
         "and its problem",
    429: "Too many requests: wait Retry-After seconds",
}
ERROR_HEADERS = {
    401: {"WWW-Authenticate": {"description": "How to authenticate", "required": True,
                               "schema": {"type": "string"}}},
    429: {"Retry-After": {"description": "Seconds to wait before trying again", "required": True,
                          "schema": {"type": "integer", "minimum": 1}}},
}
_REF = "#/components/schemas/"


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """A route's `responses=` for error statuses its service answers with; the ones every route of
    a kind shares (401 for signed-in routes, 422 for validated parameters...) are added by
    document_errors()."""
    return {status: {"model": ErrorBody, "description": ERROR_STATUSES[status]} for status in statuses}


def document_errors(doc: dict[str, Any], operation: dict[str, Any], statuses: set[int]) -> None:
    """Give `operation` of the OpenAPI document `doc` these error statuses, and every error status it
    has (FastAPI's 422 among them) our ErrorBody, instead of FastAPI's HTTPValidationError."""
    answers = operation.setdefault("responses", {})
    for status in statuses:
        answers.setdefault(str(status), {})
    operation["responses"] = answers = dict(sorted(answers.items()))
    for key, answer in answers.items():
        if not (key.isdigit() and 400 <= int(key) < 500):
            continue
        answer["description"] = ERROR_STATUSES.get(int(key), answer.get("description", ""))
        answer["content"] = {"application/json": {"schema": {"$ref": _REF + ErrorBody.__name__}}}
        if int(key) in ERROR_HEADERS:
            answer["headers"] = ERROR_HEADERS[int(key)]
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for model in (ErrorBody, FieldProblem):
        if model.__name__ not in schemas:
            schema = model.model_json_schema(ref_template=_REF + "{model}")
            schema.pop("$defs", None)
            schemas[model.__name__] = schema


def drop_unused_schemas(doc: dict[str, Any], names: tuple[str, ...] = ("HTTPValidationError", "ValidationError")) -> None:
    """Remove FastAPI's validation error schemas once document_errors() left no reference to them."""
    schemas = doc.get("components", {}).get("schemas", {})
    for name in names:
        if f"'{_REF}{name}'" not in repr(doc):
            schemas.pop(name, None)


def allowed_methods(request: Request) -> list[str]:
    """The methods some route answers at this request's path, for a 405's `Allow` header (Starlette's
    router names only the methods of the first route it finds at the path)."""
    allowed = []
    for method in METHODS:
        scope = {"type": "http", "path": request.scope["path"], "root_path": request.scope.get("root_path", ""),
                 "method": method, "headers": [], "query_string": b""}
        if any(route.matches(dict(scope))[0] is Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return allowed


def error_response(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    # `detail` repeats the message for clients written against FastAPI's default shape.
    return JSONResponse({"code": code, "message": message, "detail": message, **extra}, status_code=status)


def install(app: FastAPI) -> None:
    @app.exception_handler(ProfAIError)
    async def _profai(_: Request, exc: ProfAIError) -> JSONResponse:
        response = error_response(exc.status_code, exc.code, exc.message)
        if isinstance(exc, TooManyRequests):
            response.headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
        elif isinstance(exc, Unauthorized):
            response.headers["WWW-Authenticate"] = 'Bearer realm="ProfAI"'
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"field": ".".join(str(p) for p in e["loc"][1:]), "problem": e["msg"]} for e in exc.errors()]
        missing = [e["field"] for e in errors if "required" in e["problem"].lower()]
        if missing:
            return error_response(422, "missing_field", f"Missing required field(s): {', '.join(missing)}",
                                  errors=errors)
        summary = "; ".join(f"{e['field']}: {e['problem']}" for e in errors)
        return error_response(422, "invalid_input", f"Invalid request: {summary}", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = HTTP_CODES.get(exc.status_code, "http_error")
        response = error_response(exc.status_code, code, str(exc.detail))
        response.headers.update(exc.headers or {})  # Starlette's 405 carries `Allow`
        if exc.status_code == 405:
            response.headers["Allow"] = ", ".join(allowed_methods(request))
        return response

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "internal_error", "Something went wrong on our side; the error was logged")
