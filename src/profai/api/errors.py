"""One error shape for every failure: {"code", "message", "detail"} with a fitting status."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from profai.errors import ProfAIError

log = logging.getLogger(__name__)

HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}


def error_response(status: int, code: str, message: str, **extra) -> JSONResponse:
    # `detail` repeats the message for clients written against FastAPI's default shape.
    return JSONResponse({"code": code, "message": message, "detail": message, **extra}, status_code=status)


def install(app: FastAPI) -> None:
    @app.exception_handler(ProfAIError)
    async def _profai(_: Request, exc: ProfAIError):
        return error_response(exc.status_code, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError):
        errors = [{"field": ".".join(str(p) for p in e["loc"][1:]), "problem": e["msg"]} for e in exc.errors()]
        missing = [e["field"] for e in errors if "required" in e["problem"].lower()]
        if missing:
            return error_response(422, "missing_field", f"Missing required field(s): {', '.join(missing)}",
                                  errors=errors)
        summary = "; ".join(f"{e['field']}: {e['problem']}" for e in errors)
        return error_response(422, "invalid_input", f"Invalid request: {summary}", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException):
        code = HTTP_CODES.get(exc.status_code, "http_error")
        return error_response(exc.status_code, code, str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "internal_error", "Something went wrong on our side; the error was logged")
