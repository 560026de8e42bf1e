"""Accounts: users and roles, sign-in sessions, API keys, and who a request's credentials name.

Passwords are hashed with argon2 (pwdlib); session tokens and API keys are random 256-bit
strings of which only the sha256 is stored, so a leaked database opens no door."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from datetime import timedelta
from typing import Any, Protocol

from pwdlib import PasswordHash
from sqlalchemy.orm import Session

from profai.db import accounts_repo
from profai.db.engine import session_scope
from profai.db.models import ApiKey, User, utcnow
from profai.domain import ADMIN, ROLES, Principal
from profai.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from profai.services.deps import HasSessions, HasSettings

MIN_PASSWORD, MAX_PASSWORD = 8, 256
MAX_NAME = 100
KEY_PREFIX = "pk_"
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s]{1,63}$")
_hasher = PasswordHash.recommended()
# Verified when the email is unknown, so a wrong email costs the same time as a wrong password.
_DUMMY_HASH = _hasher.hash("not a password of anyone")


class AccountsDeps(HasSettings, HasSessions, Protocol):
    """What this service uses of the wiring."""


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def clean_email(email: str | None) -> str:
    email = (email or "").strip().lower()
    if not _EMAIL.match(email):
        raise InvalidInput("email must be an address like name@school.example", code="invalid_email")
    return email


def check_password(password: str | None) -> str:
    if not password or len(password) < MIN_PASSWORD:
        raise InvalidInput(f"password must have at least {MIN_PASSWORD} characters", code="weak_password")
    if len(password) > MAX_PASSWORD:
        raise InvalidInput(f"password must have at most {MAX_PASSWORD} characters", code="password_too_long")
    return password


def principal_of(user: User, via: str) -> Principal:
    return Principal(user_id=user.id, role=user.role, email=user.email, via=via)


# --- users -------------------------------------------------------------------------------------


def setup_needed(ctx: AccountsDeps) -> bool:
    """No account exists yet: the first-run step may create the admin."""
    with session_scope(ctx.sessions) as session:
        return accounts_repo.count_users(session) == 0


def create_first_admin(ctx: AccountsDeps, email: str | None, password: str | None) -> User:
    """The first account, an admin; refused once any account exists."""
    with session_scope(ctx.sessions) as session:
        if accounts_repo.count_users(session):
            raise Conflict("ProfAI is set up already: sign in", code="already_set_up")
        return _add_user(session, email, password, ADMIN, "")


def create_user(ctx: AccountsDeps, who: Principal, email: str | None, password: str | None, role: str | None,
                name: str | None = "") -> User:
    """An admin adds a teacher, student or another admin."""
    _require_admin(who)
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}", code="invalid_role")
    with session_scope(ctx.sessions) as session:
        return _add_user(session, email, password, role, name or "")


def _add_user(session: Session, email: str | None, password: str | None, role: str, name: str
              ) -> User:
    email = clean_email(email)
    if len(name) > MAX_NAME:
        raise InvalidInput(f"name must have at most {MAX_NAME} characters", code="name_too_long")
    if accounts_repo.user_by_email(session, email) is not None:
        raise Conflict("An account with this email exists", code="email_taken")
    return accounts_repo.add_user(session, email, _hasher.hash(check_password(password)), role, name.strip())


def get_user(ctx: AccountsDeps, user_id: int) -> User | None:
    with session_scope(ctx.sessions) as session:
        return accounts_repo.get_user(session, user_id)


def principal_for(ctx: AccountsDeps, email: str) -> Principal:
    """The user with this email as a principal (the CLI acting for them)."""
    with session_scope(ctx.sessions) as session:
        user = accounts_repo.user_by_email(session, clean_email(email))
        if user is None:
            raise NotFound(f"No account for {email[:100]}", code="user_not_found")
        return principal_of(user, "cli")


def list_users(ctx: AccountsDeps, who: Principal, limit: int = 100, offset: int = 0) -> list[User]:
    _require_admin(who)
    with session_scope(ctx.sessions) as session:
        return accounts_repo.list_users(session, limit, offset)


def update_user(ctx: AccountsDeps, who: Principal, user_id: int, *, disabled: bool | None = None,
                role: str | None = None) -> User:
    """Disable (signing the user out everywhere) or enable a user, or change a role."""
    _require_admin(who)
    if role is not None and role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}", code="invalid_role")
    if user_id == who.user_id and (disabled or (role is not None and role != ADMIN)):
        raise Conflict("Admins cannot disable or demote themselves", code="cannot_change_self")
    with session_scope(ctx.sessions) as session:
        user = accounts_repo.get_user(session, user_id)
        if user is None:
            raise NotFound(f"User {user_id} not found", code="user_not_found")
        if disabled is not None:
            user.disabled = disabled
            if disabled:
                accounts_repo.drop_sessions(session, user_id)
        if role is not None:
            user.role = role
    IDENTITIES.clear()  # this process stops trusting the user's credentials now; others within seconds
    return user


def _require_admin(who: Principal) -> None:
    if not who.is_admin:
        raise Forbidden("Only an admin can manage accounts", code="admin_only")


# --- signing in --------------------------------------------------------------------------------


def sign_in(ctx: AccountsDeps, email: str | None, password: str | None) -> tuple[User, str]:
    """The user and a new session token, or Unauthorized with one message for every failure."""
    refused = Unauthorized("Wrong email or password", code="invalid_credentials")
    with session_scope(ctx.sessions) as session:
        user = accounts_repo.user_by_email(session, (email or "").strip().lower()[:254])
        if user is None or user.disabled:
            _hasher.verify((password or "")[:MAX_PASSWORD], _DUMMY_HASH)
            raise refused
        if not _hasher.verify((password or "")[:MAX_PASSWORD], user.password_hash):
            raise refused
        token = secrets.token_urlsafe(32)
        expires = utcnow() + timedelta(days=ctx.settings.session_days)
        accounts_repo.add_session(session, digest(token), user.id, expires)
    return user, token


def sign_out(ctx: AccountsDeps, token: str) -> None:
    with session_scope(ctx.sessions) as session:
        accounts_repo.end_session(session, digest(token))
    IDENTITIES.forget(("session", digest(token)))


def change_password(ctx: AccountsDeps, who: Principal, current: str | None, new: str | None,
                    session_token: str | None) -> None:
    """Check the current password, set the new one, and sign out every other session."""
    if who.user_id is None:
        raise Forbidden("This identity has no password", code="no_password")
    with session_scope(ctx.sessions) as session:
        user = accounts_repo.get_user(session, who.user_id)
        if user is None or not _hasher.verify((current or "")[:MAX_PASSWORD], user.password_hash):
            raise InvalidInput("The current password is wrong", code="wrong_password")
        user.password_hash = _hasher.hash(check_password(new))
        accounts_repo.drop_sessions(session, user.id, keep=digest(session_token) if session_token else None)
    IDENTITIES.clear()


# --- API keys ----------------------------------------------------------------------------------


def create_key(ctx: AccountsDeps, who: Principal, name: str | None) -> tuple[ApiKey, str]:
    """A new key for the caller; the secret is returned once and never stored."""
    if who.user_id is None:
        raise Forbidden("Keys belong to users: sign in to create one", code="no_user")
    name = " ".join((name or "").split())[:MAX_NAME] or "key"
    token = KEY_PREFIX + secrets.token_urlsafe(32)
    with session_scope(ctx.sessions) as session:
        key = accounts_repo.add_key(session, who.user_id, name, token[:10], digest(token))
    return key, token


def list_keys(ctx: AccountsDeps, who: Principal) -> list[ApiKey]:
    """The caller's keys; an admin without an account (API_KEY) sees every key."""
    with session_scope(ctx.sessions) as session:
        return accounts_repo.keys_of(session, None if who.user_id is None and who.is_admin else who.user_id)


def revoke_key(ctx: AccountsDeps, who: Principal, key_id: int) -> None:
    """Revoke one of the caller's keys (an admin may revoke any)."""
    with session_scope(ctx.sessions) as session:
        key = accounts_repo.get_key(session, key_id)
        if key is None or (key.user_id != who.user_id and not who.is_admin):
            raise NotFound(f"Key {key_id} not found", code="key_not_found")
        accounts_repo.revoke_key(session, key_id)
        key_hash = key.key_hash
    IDENTITIES.forget(("key", key_hash))


# --- who is asking -----------------------------------------------------------------------------


class IdentityCache:
    """Checked credentials for a few seconds, so polling clients cost one dictionary lookup; a
    revoked key or ended session is forgotten here at once and by other processes within the TTL.

    When an entry expires, the first caller checks it again while the others keep the last answer
    for up to REFRESH_GRACE seconds: without that, every request in flight for a busy key missed
    at once and queued on the database (the p99 of status polls doubled every TTL)."""

    REFRESH_GRACE = 2.0

    def __init__(self, max_entries: int = 10_000) -> None:
        # key -> [fresh until, who, refreshing until]
        self._entries: dict[tuple[str, str], list[Any]] = {}
        self._lock = threading.Lock()
        self.max_entries = max_entries

    def get(self, key: tuple[str, str]) -> tuple[bool, Principal | None]:
        """(True, who) when the cached answer may be used; (False, None) when this caller must
        ask the database (and is then the one refreshing an expired entry)."""
        entry = self._entries.get(key)
        if entry is None:
            return False, None
        now = time.monotonic()
        if entry[0] >= now or entry[2] >= now:
            return True, entry[1]
        entry[2] = now + self.REFRESH_GRACE
        return False, None

    def put(self, key: tuple[str, str], principal: Principal | None, ttl: float) -> None:
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()  # rare: a flood of distinct tokens; cheaper than LRU bookkeeping
            self._entries[key] = [time.monotonic() + ttl, principal, 0.0]

    def forget(self, key: tuple[str, str]) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()


IDENTITIES = IdentityCache()


def peek(ctx: AccountsDeps, *, session_token: str | None = None, api_key: str | None = None
         ) -> tuple[bool, Principal | None]:
    """(True, who) when the answer needs no database read: the admin key, or a cached check."""
    if api_key is not None:
        if _is_admin_key(ctx, api_key):
            return True, ADMIN_KEY
        return IDENTITIES.get(("key", digest(api_key)))
    if session_token is not None:
        return IDENTITIES.get(("session", digest(session_token)))
    return True, None


def _is_admin_key(ctx: AccountsDeps, api_key: str) -> bool:
    admin_key = ctx.settings.api_key
    return bool(admin_key) and hmac.compare_digest(api_key.encode("utf-8", "surrogatepass"),
                                                    (admin_key or "").encode())


ADMIN_KEY = Principal(user_id=None, role=ADMIN, via="admin_key")


def identify(ctx: AccountsDeps, *, session_token: str | None = None, api_key: str | None = None
             ) -> Principal | None:
    """Who the credentials name, asking the database (after `peek` found no usable answer), or None
    for none or invalid ones (the caller answers 401); the answer is cached for the next requests."""
    if api_key is not None:
        if _is_admin_key(ctx, api_key):
            return ADMIN_KEY
        return _check(ctx, "key", api_key)
    if session_token is not None:
        return _check(ctx, "session", session_token)
    return None


def _check(ctx: AccountsDeps, kind: str, token: str) -> Principal | None:
    """The database's answer for a key or session token, remembered for the next requests."""
    key = (kind, digest(token))
    principal = None
    if len(token) <= 200:  # longer than any token we issue: no query for it
        with session_scope(ctx.sessions) as session:
            find = accounts_repo.user_of_key if kind == "key" else accounts_repo.user_of_session
            user = find(session, key[1])
            principal = principal_of(user, kind) if user is not None else None
    ttl = ctx.settings.identity_cache_seconds
    if ttl:
        IDENTITIES.put(key, principal, ttl)
    return principal
