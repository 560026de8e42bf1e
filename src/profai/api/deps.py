"""FastAPI dependencies: the Container, and who is asking (typed for handlers).

Every route declares who may call it with one of these: `User` (anyone signed in or holding a
key), `Teacher` (teachers and admins), `Admin`; routes without one are public on purpose and
listed as such in tests/api/test_authorization.py. Access to one course, dataset or job is
decided by its service, which answers 404 where even its existence must not leak."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, WebSocket
from fastapi.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from profai.domain import ADMIN, TEACHER, Principal
from profai.errors import Forbidden, Unauthorized
from profai.services import accounts
from profai.wiring import Container

SESSION_COOKIE = "profai_session"


async def get_ctx(request: Request) -> Container:
    # async: a plain function would cost every request a hop to the thread pool
    ctx: Container = request.app.state.ctx
    return ctx


CtxDep = Annotated[Container, Depends(get_ctx)]


def credentials(conn: HTTPConnection) -> tuple[str | None, str | None]:
    """(API key, session token) as sent: `Authorization: Bearer`, `X-API-Key`, the cookie."""
    auth = conn.headers.get("authorization")
    if auth is not None:
        scheme, _, token = auth.partition(" ")
        return (token.strip() if scheme.lower() == "bearer" else ""), None
    key = conn.headers.get("x-api-key")
    if key is not None:
        return key.strip(), None
    return None, conn.cookies.get(SESSION_COOKIE)


async def identify(conn: HTTPConnection, ctx: Container) -> Principal:
    """Who sent the request, or Unauthorized (401)."""
    key, session = credentials(conn)
    if key is None and session is None:
        raise Unauthorized("Sign in, or send an API key (Authorization: Bearer <key> or X-API-Key)",
                           code="not_authenticated")
    hit, principal = accounts.peek(ctx, api_key=key, session_token=session)
    if not hit:  # a database read: off the event loop
        principal = await run_in_threadpool(accounts.identify, ctx, api_key=key, session_token=session)
    if principal is None:
        raise Unauthorized("The session or API key is not valid (signed out, revoked or disabled)",
                           code="invalid_credentials")
    return principal


async def current_user(request: Request) -> Principal:
    principal: Principal = await identify(request, request.app.state.ctx)
    return principal


async def current_teacher(who: Annotated[Principal, Depends(current_user)]) -> Principal:
    if who.role not in (TEACHER, ADMIN):
        raise Forbidden("Only teachers and admins can do this", code="teachers_only")
    return who


async def current_admin(who: Annotated[Principal, Depends(current_user)]) -> Principal:
    if who.role != ADMIN:
        raise Forbidden("Only admins can do this", code="admin_only")
    return who


async def socket_user(websocket: WebSocket) -> Principal:
    principal: Principal = await identify(websocket, websocket.app.state.ctx)
    return principal


User = Annotated[Principal, Depends(current_user)]
Teacher = Annotated[Principal, Depends(current_teacher)]
Admin = Annotated[Principal, Depends(current_admin)]
