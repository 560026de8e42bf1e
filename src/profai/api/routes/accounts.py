"""Accounts: the first-run step, signing in and out, passwords, users (admins) and API keys."""

from __future__ import annotations

import ipaddress
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from profai.api.deps import SESSION_COOKIE, Admin, CtxDep, User, credentials
from profai.api.errors import responses
from profai.api.ids import KeyId, UserId
from profai.errors import Forbidden
from profai.schemas.accounts import (
    Credentials,
    KeyIn,
    KeyList,
    KeyOut,
    Me,
    NewKey,
    PasswordChange,
    SetupState,
    UserIn,
    UserList,
    UserOut,
    UserPatch,
)
from profai.services import accounts

router = APIRouter(prefix="/api", tags=["accounts"])
# Headers a proxy adds: behind one, the peer address is the proxy's and says nothing of the client.
_FORWARDED = ("forwarded", "x-forwarded-for", "x-real-ip")


def _set_session_cookie(request: Request, response: Response, token: str, days: float,
                        secure: bool | None) -> None:
    https = request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"
    response.set_cookie(SESSION_COOKIE, token, max_age=int(days * 86400), httponly=True, samesite="lax",
                        secure=https if secure is None else secure, path="/")


def _from_this_machine(request: Request) -> bool:
    """A direct loopback connection: the first-run step is for whoever sits at the server."""
    if request.client is None or any(h in request.headers for h in _FORWARDED):
        return False
    try:
        return ipaddress.ip_address(request.client.host).is_loopback
    except ValueError:
        return False


@router.get("/setup", response_model=SetupState)
def setup_state(ctx: CtxDep) -> SetupState:
    """Whether the first admin account still has to be created (POST /api/setup, from this machine)."""
    return SetupState(setup_needed=accounts.setup_needed(ctx))


@router.post("/setup", status_code=201, response_model=UserOut, responses=responses(409))
async def setup(request: Request, response: Response, ctx: CtxDep, body: Credentials) -> UserOut:
    """First run only, and only from the server itself (loopback, no proxy): create the admin
    account and sign it in. Or run `profai admin create` instead."""
    if not _from_this_machine(request):
        raise Forbidden("The first admin account can only be created on the server itself "
                        "(http://127.0.0.1:PORT/ or `profai admin create`)", code="setup_local_only")
    user = await run_in_threadpool(accounts.create_first_admin, ctx, body.email, body.password)
    _, token = await run_in_threadpool(accounts.sign_in, ctx, body.email, body.password)
    _set_session_cookie(request, response, token, ctx.settings.session_days, ctx.settings.secure_cookies)
    return UserOut.of(user)


@router.post("/auth/login", response_model=UserOut, responses=responses(401))
async def login(request: Request, response: Response, ctx: CtxDep, body: Credentials) -> UserOut:
    """Sign in with email and password; the session is an HttpOnly cookie."""
    user, token = await run_in_threadpool(accounts.sign_in, ctx, body.email, body.password)
    _set_session_cookie(request, response, token, ctx.settings.session_days, ctx.settings.secure_cookies)
    return UserOut.of(user)


@router.post("/auth/logout", status_code=204)
def logout(request: Request, response: Response, ctx: CtxDep, who: User) -> None:
    """End this browser's session."""
    _, session = credentials(request)
    if session:
        accounts.sign_out(ctx, session)
    response.delete_cookie(SESSION_COOKIE, path="/")


@router.get("/auth/me", response_model=Me)
def me(ctx: CtxDep, who: User) -> Me:
    user = accounts.get_user(ctx, who.user_id) if who.user_id is not None else None
    return Me(role=who.role, via=who.via, user=UserOut.of(user) if user else None)


@router.post("/auth/password", status_code=204)
def change_password(request: Request, ctx: CtxDep, who: User, body: PasswordChange) -> None:
    """Set a new password; every other session of this account is signed out."""
    _, session = credentials(request)
    accounts.change_password(ctx, who, body.current_password, body.new_password, session)


@router.get("/users", response_model=UserList)
def list_users(ctx: CtxDep, who: Admin, limit: Annotated[int, Query(ge=1, le=1000)] = 200,
               offset: Annotated[int, Query(ge=0, le=2**31)] = 0) -> UserList:
    return UserList(users=[UserOut.of(u) for u in accounts.list_users(ctx, who, limit, offset)])


@router.post("/users", status_code=201, response_model=UserOut, responses=responses(409))
def create_user(ctx: CtxDep, who: Admin, body: UserIn) -> UserOut:
    """Add a teacher, student or admin with a first password they can change."""
    return UserOut.of(accounts.create_user(ctx, who, body.email, body.password, body.role, body.name))


@router.patch("/users/{user_id}", response_model=UserOut, responses=responses(409))
def update_user(ctx: CtxDep, who: Admin, user_id: UserId, body: UserPatch) -> UserOut:
    """Disable (signing out everywhere) or enable a user, or change their role."""
    return UserOut.of(accounts.update_user(ctx, who, user_id, disabled=body.disabled, role=body.role))


@router.get("/keys", response_model=KeyList)
def list_keys(ctx: CtxDep, who: User) -> KeyList:
    return KeyList(keys=[KeyOut.of(k) for k in accounts.list_keys(ctx, who)])


@router.post("/keys", status_code=201, response_model=NewKey)
def create_key(ctx: CtxDep, who: User, body: KeyIn) -> NewKey:
    """A key for scripts and the CLI, with your rights; the secret is in this answer only."""
    key, secret = accounts.create_key(ctx, who, body.name)
    return NewKey(**KeyOut.of(key).model_dump(), key=secret)


@router.delete("/keys/{key_id}", status_code=204)
def revoke_key(ctx: CtxDep, who: User, key_id: KeyId) -> None:
    accounts.revoke_key(ctx, who, key_id)
