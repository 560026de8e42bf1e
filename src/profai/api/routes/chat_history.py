"""Past conversations: list a course's, reopen one with its sources, delete one (the owner's only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from profai.api.deps import CtxDep, User
from profai.api.errors import responses
from profai.api.ids import ChatSessionId, CourseId
from profai.domain import MAX_ID
from profai.schemas.study import ChatList, ChatMessageOut, ChatSummary, ChatTranscript
from profai.services import chat_history

router = APIRouter(prefix="/api", tags=["chat"])


@router.get("/courses/{course_id}/chats", response_model=ChatList, responses=responses(404))
def list_chats(ctx: CtxDep, who: User, course_id: CourseId,
               limit: Annotated[int, Query(ge=1, le=chat_history.MAX_LIST)] = 50,
               offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0) -> ChatList:
    """Your conversations with the course, latest first: first question, last activity, size."""
    rows, total = chat_history.list_chats(ctx, who, course_id, limit=limit, offset=offset)
    return ChatList(course_id=course_id, total=total, chats=[
        ChatSummary(session_id=r.id, title=r.first_question, created_at=r.created_at, updated_at=r.updated_at,
                    messages=r.messages) for r in rows])


@router.get("/chats/{session_id}", response_model=ChatTranscript, responses=responses(404))
def get_chat(ctx: CtxDep, who: User, session_id: ChatSessionId) -> ChatTranscript:
    """One of your conversations, its messages oldest first, each answer with its sources."""
    chat = chat_history.get_chat(ctx, who, session_id)
    return ChatTranscript(session_id=chat.id, course_id=chat.course_id, title=chat.title, created_at=chat.created_at,
                          truncated=chat.truncated,
                          messages=[ChatMessageOut.model_validate(m) for m in chat.messages])


@router.delete("/chats/{session_id}", status_code=204, responses=responses(404))
def delete_chat(ctx: CtxDep, who: User, session_id: ChatSessionId) -> None:
    chat_history.delete_chat(ctx, who, session_id)
