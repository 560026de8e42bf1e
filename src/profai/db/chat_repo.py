"""Chat sessions and their messages."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

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
