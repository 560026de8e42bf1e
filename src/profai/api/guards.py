"""Checks on every request before routing: the Host header must be one we serve (DNS rebinding),
and a state-changing request that relies on the session cookie must come from our own pages
(its Origin, or else Referer, names this host), so another site cannot act for a signed-in user;
a WebSocket may not be opened from another site's page at all.
Requests with an API key carry no ambient credential and are not checked for origin."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def allowed_host_set(setting: str) -> frozenset[str] | None:
    """The ALLOWED_HOSTS names, lower-case and without ports; None allows any host ("*")."""
    names = {h.strip().lower() for h in setting.split(",") if h.strip()}
    return None if "*" in names else frozenset(names)


def host_name(host: str) -> str:
    """"example.org:5001" -> "example.org"; "[::1]:5001" -> "[::1]"."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class RequestGuard:
    """Pure ASGI middleware (no per-request thread or task) enforcing the two rules above."""

    def __init__(self, app: ASGIApp, allowed_hosts: str, session_cookie: str) -> None:
        self.app = app
        self.hosts = allowed_host_set(allowed_hosts)
        self.cookie = session_cookie

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if "\x00" in scope["path"] or b"%00" in scope.get("raw_path", b"") or b"%00" in scope["query_string"]:
            # No id or name has a NUL in it, and databases refuse to store one.
            await _refuse(scope, send, 400, "invalid_path", "The address contains a NUL byte")
            return
        headers = Headers(scope=scope)
        if self.hosts is not None and host_name(headers.get("host", "")) not in self.hosts:
            await _refuse(scope, send, 400, "host_not_allowed",
                          "This server does not answer for that host name (see ALLOWED_HOSTS)")
            return
        if scope["type"] == "websocket" and not _from_here(headers, require_origin=False):
            # Browsers always send Origin on a WebSocket: a page of another site may not open one.
            await _refuse(scope, send, 403, "cross_origin", "WebSockets may only be opened from ProfAI's pages")
            return
        if scope["type"] == "http" and scope["method"] not in SAFE_METHODS and self._cookie_only(headers) \
                and not _from_here(headers, require_origin=True):
            await _refuse(scope, send, 403, "cross_origin",
                          "This request must come from ProfAI's own pages (Origin does not match)")
            return
        await self.app(scope, receive, send)

    def _cookie_only(self, headers: Headers) -> bool:
        cookies = headers.get("cookie", "")
        return f"{self.cookie}=" in cookies and "authorization" not in headers and "x-api-key" not in headers


def _from_here(headers: Headers, *, require_origin: bool) -> bool:
    origin = headers.get("origin") or headers.get("referer")
    if origin is None:
        return not require_origin
    return urlsplit(origin).netloc.lower() == headers.get("host", "").lower()


async def _refuse(scope: Scope, send: Send, status: int, code: str, message: str) -> None:
    if scope["type"] == "websocket":  # closing before accepting answers the handshake with 403
        await send({"type": "websocket.close", "code": 1008})
        return
    body = json.dumps({"code": code, "message": message, "detail": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
