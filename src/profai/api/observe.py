"""Every request's id and measurements, as one pure ASGI middleware (outside the others, so
refusals by the guard or the rate limit are counted and carry an id too).

- Request id: the client's (or proxy's) X-Request-ID when it is a sane one (logs.safe_request_id:
  bounded length, safe characters), else a new one; bound for the request's log lines, stored
  with a job the request creates, and returned in the X-Request-ID response header.
- Metrics: requests by method, route template (never the raw path: ids would make a series per
  course) and status, with a latency histogram; WebSocket sessions accepted and open by route."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from profai.observability import logs, metrics

HEADER = b"x-request-id"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNROUTED = "unrouted"  # no route matched, or the request was refused before routing


def route_template(scope: Scope) -> str:
    """The template of the route that served the request ("/api/jobs/{job_id}")."""
    return str(getattr(scope.get("route"), "path_format", UNROUTED))


def _request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == HEADER:
            return logs.safe_request_id(value)
    return logs.new_request_id()


class Observe:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "websocket":
            await self._socket(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        rid = _request_id(scope)
        # Not reset on the way out: the server runs each request in a task of its own, and the
        # handler of unexpected errors (Starlette's outermost middleware) logs after this returns.
        logs.REQUEST_ID.set(rid)
        status = 500  # what the client gets if the app raises before answering
        started = time.perf_counter()

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), (HEADER, rid.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            method = scope["method"] if scope["method"] in METHODS else "other"
            metrics.http_request(method, route_template(scope), str(status), time.perf_counter() - started)

    async def _socket(self, scope: Scope, receive: Receive, send: Send) -> None:
        rid = _request_id(scope)
        logs.REQUEST_ID.set(rid)
        accepted: str | None = None  # the route, once the session is accepted

        async def sending(message: Message) -> None:
            nonlocal accepted
            if message["type"] == "websocket.accept" and accepted is None:
                accepted = route_template(scope)
                metrics.WS_SESSIONS.labels(accepted).inc()
                metrics.WS_OPEN.labels(accepted).inc()
                message = {**message, "headers": [*message.get("headers", ()), (HEADER, rid.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            if accepted is not None:
                metrics.WS_OPEN.labels(accepted).dec()
