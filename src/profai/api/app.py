"""create_app(): wires the Container once and mounts the routes."""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from profai import __version__
from profai.api import errors, limits
from profai.api.deps import SESSION_COOKIE, current_admin, current_teacher, current_user
from profai.api.guards import SAFE_METHODS, RequestGuard
from profai.api.observe import Observe
from profai.api.routes import (
    accounts,
    audio,
    chat,
    chat_history,
    classes,
    courses,
    datasets,
    health,
    jobs,
    manage,
    metrics,
    progress,
    quizzes,
    sources,
    web,
)
from profai.settings import Settings, get_settings
from profai.stores.vectors import VectorStore
from profai.wiring import Container, build_container

log = logging.getLogger(__name__)


def _warm_up(vectors: VectorStore) -> None:
    try:
        vectors.ping()
    except Exception as exc:  # the readiness check and the first real call report it properly
        log.warning("vector store not reachable at start-up: %s", exc)


# How a request says who sends it (deps.credentials): any one will do.
SECURITY_SCHEMES = {
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key",
               "description": "An API key (POST /api/keys, `profai` CLI, or the server's API_KEY)"},
    "bearer": {"type": "http", "scheme": "bearer", "description": "An API key as `Authorization: Bearer <key>`"},
    "session": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE,
                "description": "The session cookie POST /api/auth/login sets"},
}
_GATES = frozenset({current_user, current_teacher, current_admin})


def _gates(route: APIRoute) -> set[Callable[..., Any]]:
    """Which of the identity dependencies (User, Teacher, Admin) the route's handler declares."""
    calls: set[Callable[..., Any]] = set()
    stack = [route.dependant]
    while stack:
        dependant = stack.pop()
        if dependant.call is not None:
            calls.add(dependant.call)
        stack.extend(dependant.dependencies)
    return calls & _GATES


def _error_statuses(path: str, method: str, gates: set[Callable[..., Any]]) -> set[int]:
    """The error statuses an operation shares with others of its kind (its own are its `responses=`)."""
    statuses = {400, 413}  # RequestGuard's Host check and RequestLimits' body cap see every request
    if path not in limits.EXEMPT_PATHS:
        statuses.add(429)
    if gates:
        statuses.add(401)
    if gates - {current_user} or method not in SAFE_METHODS:  # a role, or RequestGuard's Origin check
        statuses.add(403)
    if "{" in path:  # an id that names nothing (or nothing this identity may see)
        statuses.add(404)
    return statuses


_BOUNDS = frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"})


def _integral_bounds(node: Any) -> None:
    """FastAPI passes component schemas through float-typed fields: give whole-number bounds back
    as integers (exactly: an integral float converts without loss; schemas bound ids with `lt` a
    power of two so that the float was exact in the first place)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _BOUNDS and isinstance(value, float) and value.is_integer():
                node[key] = int(value)
            else:
                _integral_bounds(value)
    elif isinstance(node, list):
        for item in node:
            _integral_bounds(item)


# RequestGuard refuses an address with a NUL byte (400): no path or query value holds one.
_NO_NUL = "^[^\\u0000]*$"


def _no_nul(operation: dict[str, Any]) -> None:
    for parameter in operation.get("parameters", ()):
        schema = parameter["schema"]
        kinds = [schema.get("type")] + [branch.get("type") for branch in schema.get("anyOf", ())]
        if parameter.get("in") in ("path", "query") and "string" in kinds:
            # `pattern` binds strings only, so it may sit beside an anyOf
            parameter["schema"] = {**schema, "pattern": _NO_NUL} if "pattern" not in schema else \
                {"allOf": [schema, {"pattern": _NO_NUL}]}


def _document(app: FastAPI, s: Settings) -> dict[str, Any]:
    """FastAPI's OpenAPI document, told the truth about errors (every 4xx is an ErrorBody), about
    who may call what (the security schemes, on every operation that needs an identity) and about
    the limits set by settings."""
    doc = FastAPI.openapi(app)
    doc["components"]["schemas"]["SpeakIn"]["properties"]["text"]["maxLength"] = s.tts_max_chars
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        path = context.path_format or route.path_format
        gates = _gates(route)
        for method in context.methods or ():
            operation = doc["paths"][path][method.lower()]
            if gates:
                operation["security"] = [{name: []} for name in SECURITY_SCHEMES]
            errors.document_errors(doc, operation, _error_statuses(path, method, gates))
            _no_nul(operation)
    doc["components"]["securitySchemes"] = SECURITY_SCHEMES
    errors.drop_unused_schemas(doc)
    _integral_bounds(doc)
    return doc


def create_app(settings: Settings | None = None, ctx: Container | None = None, *, runner: str | None = None) -> FastAPI:
    """The ASGI app; pass `ctx` to share an already-built Container (tests, CLI), or `runner` to
    override JOB_RUNNER in the one it builds (see wiring.build_container)."""

    s = ctx.settings if ctx is not None else settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = ctx is None
        app.state.ctx = ctx or build_container(s, runner=runner)
        if app.state.ctx.runner is not None:
            app.state.ctx.runner.start()
        # Open the vector store now, beside start-up, rather than in the middle of the first job
        # or chat (embedded Chroma's own process takes about a second of CPU to start).
        threading.Thread(target=_warm_up, args=(app.state.ctx.vectors,), name="vectors-warm-up", daemon=True).start()
        # Everything built so far lives as long as the process: keep it out of the collector's
        # full passes, which otherwise walk the whole heap and stall every request in flight.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            if own:
                app.state.ctx.close()

    app = FastAPI(title="ProfAI", version=__version__, lifespan=lifespan,
                  description="Turns teaching material into courses.")
    errors.install(app)
    limits.install(app, s)
    for module in (jobs, health, accounts, courses, manage, sources, classes, datasets, chat, chat_history, quizzes,
                   progress, audio, metrics, web):  # polls first
        app.include_router(module.router)
    app.add_middleware(RequestGuard, allowed_hosts=s.allowed_hosts, session_cookie=SESSION_COOKIE)
    app.add_middleware(Observe)  # outermost: refusals get a request id and are counted too

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _document(app, s)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
