"""Users, their API keys, browser sessions and course enrolments. Secrets are stored as sha256
hashes only (passwords as argon2 hashes, made by services.accounts)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from profai.db.models import ApiKey, Enrollment, User, WebSession, utcnow


def count_users(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(User)) or 0


def add_user(session: Session, email: str, password_hash: str, role: str, name: str = "") -> User:
    user = User(email=email, password_hash=password_hash, role=role, name=name)
    session.add(user)
    session.flush()
    return user


def user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email))


def get_user(session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


def list_users(session: Session, limit: int, offset: int) -> list[User]:
    return list(session.scalars(select(User).order_by(User.id).limit(limit).offset(offset)))


def drop_sessions(session: Session, user_id: int, keep: str | None = None) -> None:
    """Sign the user out everywhere (but the session whose hash is `keep`)."""
    q = delete(WebSession).where(WebSession.user_id == user_id)
    if keep:
        q = q.where(WebSession.token_hash != keep)
    session.execute(q)


def add_session(session: Session, token_hash: str, user_id: int, expires_at: datetime) -> None:
    session.add(WebSession(token_hash=token_hash, user_id=user_id, expires_at=expires_at))


def end_session(session: Session, token_hash: str) -> None:
    session.execute(delete(WebSession).where(WebSession.token_hash == token_hash))


def user_of_session(session: Session, token_hash: str) -> User | None:
    """The enabled user a live session belongs to."""
    return session.scalar(
        select(User).join(WebSession, WebSession.user_id == User.id)
        .where(WebSession.token_hash == token_hash, WebSession.expires_at > utcnow(), User.disabled.is_(False))
    )


def add_key(session: Session, user_id: int, name: str, prefix: str, key_hash: str) -> ApiKey:
    key = ApiKey(user_id=user_id, name=name, prefix=prefix, key_hash=key_hash)
    session.add(key)
    session.flush()
    return key


def user_of_key(session: Session, key_hash: str) -> User | None:
    """The enabled user an unrevoked key belongs to; marks the key used."""
    user = session.scalar(
        select(User).join(ApiKey, ApiKey.user_id == User.id)
        .where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None), User.disabled.is_(False))
    )
    if user is not None:  # at most once a minute: a busy key's every check is no write
        now = utcnow()
        stale = ApiKey.last_used_at.is_(None) | (ApiKey.last_used_at < now - timedelta(minutes=1))
        session.execute(update(ApiKey).where(ApiKey.key_hash == key_hash, stale).values(last_used_at=now))
    return user


def keys_of(session: Session, user_id: int | None) -> list[ApiKey]:
    """A user's keys, or every key (user_id None)."""
    q = select(ApiKey).order_by(ApiKey.id)
    if user_id is not None:
        q = q.where(ApiKey.user_id == user_id)
    return list(session.scalars(q))


def get_key(session: Session, key_id: int) -> ApiKey | None:
    return session.get(ApiKey, key_id)


def revoke_key(session: Session, key_id: int) -> None:
    session.execute(update(ApiKey).where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
                    .values(revoked_at=utcnow()))


def enroll(session: Session, course_id: int, user_id: int) -> bool:
    """True if the student was not in the class yet."""
    if session.get(Enrollment, (course_id, user_id)) is not None:
        return False
    session.add(Enrollment(course_id=course_id, user_id=user_id))
    session.flush()
    return True


def is_enrolled(session: Session, course_id: int, user_id: int) -> bool:
    return session.get(Enrollment, (course_id, user_id)) is not None


def students_of(session: Session, course_id: int) -> list[tuple[User, datetime]]:
    q = (select(User, Enrollment.joined_at).join(Enrollment, Enrollment.user_id == User.id)
         .where(Enrollment.course_id == course_id).order_by(User.email))
    return [(u, at) for u, at in session.execute(q).all()]
