"""Past conversations: a person lists their conversations with a course, reopens and deletes them.

A conversation is its owner's alone: nobody else, admins included, reads, continues or deletes it
(chat.prepare applies the same rule to continuing); to anyone else it does not exist (404)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.orm import Session

from profai.db import chat_repo
from profai.db.engine import session_scope
from profai.db.models import ChatMessage, ChatSession
from profai.domain import Principal
from profai.errors import NotFound
from profai.services import access
from profai.services.deps import HasSessions

MAX_LIST = 100  # conversations per page
MAX_MESSAGES = 400  # the latest messages of a conversation shown when it is reopened
TITLE_CHARS = 120


@dataclass(frozen=True)
class Conversation:
    id: str
    course_id: int
    title: str
    created_at: datetime
    messages: list[ChatMessage]
    truncated: bool


def title_of(question: str) -> str:
    question = " ".join(question.split())
    return question if len(question) <= TITLE_CHARS else question[:TITLE_CHARS - 1].rstrip() + "…"


def list_chats(ctx: HasSessions, who: Principal, course_id: int, *, limit: int = 50, offset: int = 0
               ) -> tuple[list[chat_repo.SessionSummary], int]:
    """The caller's conversations with a course they may read, latest first."""
    with session_scope(ctx.sessions) as session:
        access.course_for(session, who, course_id)
        rows, total = chat_repo.sessions_of(session, course_id, who.user_id, limit=min(limit, MAX_LIST),
                                            offset=offset)
    return [replace(r, first_question=title_of(r.first_question)) for r in rows], total


def _own(session: Session, who: Principal, session_id: str) -> ChatSession:
    """The caller's conversation, in a course they may still read; else 404 as if there were none."""
    chat = chat_repo.get_session(session, session_id)
    if chat is None or chat.user_id != who.user_id:
        raise NotFound(f"Chat session {session_id[:64]} not found", code="session_not_found")
    try:
        access.course_for(session, who, chat.course_id)
    except NotFound:  # left the class, or the course changed hands: the conversation goes with it
        raise NotFound(f"Chat session {session_id[:64]} not found", code="session_not_found") from None
    return chat


def get_chat(ctx: HasSessions, who: Principal, session_id: str) -> Conversation:
    with session_scope(ctx.sessions) as session:
        chat = _own(session, who, session_id)
        messages = chat_repo.recent_turns(session, session_id, MAX_MESSAGES + 1)
        truncated = len(messages) > MAX_MESSAGES
        messages = messages[-MAX_MESSAGES:]
        title = title_of(chat_repo.first_question(session, session_id))
        return Conversation(chat.id, chat.course_id, title, chat.created_at, messages, truncated)


def delete_chat(ctx: HasSessions, who: Principal, session_id: str) -> None:
    with session_scope(ctx.sessions) as session:
        _own(session, who, session_id)
        chat_repo.delete_session(session, session_id)
