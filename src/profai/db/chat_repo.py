"""Chat sessions and their messages."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.orm import Session, aliased

from profai.db.models import ChatMessage, ChatSession


def create_session(session: Session, course_id: int, user_id: int | None = None) -> ChatSession:
    chat = ChatSession(id=str(uuid.uuid4()), course_id=course_id, user_id=user_id)
    session.add(chat)
    session.flush()
    return chat


def get_session(session: Session, session_id: str) -> ChatSession | None:
    return session.get(ChatSession, session_id)


def recent_turns(session: Session, session_id: str, limit: int = 6) -> list[ChatMessage]:
    """The last `limit` messages, oldest first."""
    q = select(ChatMessage).where(ChatMessage.session_id == session_id).order_by(ChatMessage.id.desc()).limit(limit)
    return list(reversed(list(session.scalars(q))))


def add_message(session: Session, session_id: str, role: str, content: str, sources: list[Any] | None = None) -> None:
    session.add(ChatMessage(session_id=session_id, role=role, content=content, sources=sources or []))
    session.flush()


@dataclass(frozen=True)
class SessionSummary:
    """A conversation as a list shows it: its first question, last message time and size."""

    id: str
    created_at: datetime
    updated_at: datetime
    first_question: str
    messages: int


def _owned_by(user_id: int | None) -> ColumnElement[bool]:
    # The API_KEY admin and the CLI have no account: their sessions are those without an owner.
    return ChatSession.user_id == user_id if user_id is not None else ChatSession.user_id.is_(None)


def sessions_of(session: Session, course_id: int, user_id: int | None, *, limit: int, offset: int = 0
                ) -> tuple[list[SessionSummary], int]:
    """One person's conversations with a course that hold a message, latest first, and how many."""
    # Only this person's sessions with the course are counted, not every message of every chat.
    stats = (select(ChatMessage.session_id, func.count().label("n"), func.max(ChatMessage.created_at).label("last"),
                    func.min(ChatMessage.id).label("first_id"))
             .join(ChatSession, ChatSession.id == ChatMessage.session_id)
             .where(ChatSession.course_id == course_id, _owned_by(user_id))
             .group_by(ChatMessage.session_id).subquery())
    first = aliased(ChatMessage)
    q = (select(ChatSession.id, ChatSession.created_at, stats.c.last, first.content, stats.c.n)
         .join(stats, stats.c.session_id == ChatSession.id).join(first, first.id == stats.c.first_id)
         .order_by(stats.c.last.desc(), ChatSession.id).limit(limit).offset(offset))
    rows = [SessionSummary(*row) for row in session.execute(q)]
    return rows, session.scalar(select(func.count()).select_from(stats)) or 0


def first_question(session: Session, session_id: str) -> str:
    """The conversation's first question (its title), however long it has grown."""
    q = (select(ChatMessage.content).where(ChatMessage.session_id == session_id, ChatMessage.role == "user")
         .order_by(ChatMessage.id).limit(1))
    return session.scalar(q) or ""


def delete_session(session: Session, session_id: str) -> None:
    """The conversation and (ON DELETE CASCADE) its messages."""
    session.execute(delete(ChatSession).where(ChatSession.id == session_id))
    session.flush()
