"""Chat with a course: retrieve passages (hybrid), answer from them with citations, keep the
conversation so that follow-up questions make sense."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from profai.db import chat_repo, courses_repo
from profai.db.engine import session_scope
from profai.errors import InvalidInput, NotFound
from profai.providers.generator.answer import expand_query
from profai.providers.generator.base import ChatAnswer, Turn, final_answer

if TYPE_CHECKING:
    from profai.retrieval.hybrid import Passage
    from profai.wiring import Container

MAX_QUESTION_CHARS = 2000
TOP_K = 5
HISTORY_TURNS = 3


def clean_question(question: str | None) -> str:
    question = " ".join((question or "").split())
    if not question:
        raise InvalidInput("question must not be empty", code="empty_question")
    if len(question) > MAX_QUESTION_CHARS:
        raise InvalidInput(f"question is longer than {MAX_QUESTION_CHARS} characters", code="question_too_long")
    return question


@dataclass
class Prepared:
    """A checked question with its session, conversation so far and retrieved passages."""

    question: str
    session_id: str
    history: list[Turn]
    passages: list[Passage]


def prepare(ctx: Container, course_id: Any, question: str | None, session_id: str | None = None) -> Prepared:
    """Validate, open or continue the session, and retrieve passages for the question."""
    question = clean_question(question)
    if not isinstance(course_id, int) or isinstance(course_id, bool):
        raise InvalidInput("course_id must be a course's number", code="missing_course_id")
    with session_scope(ctx.sessions) as session:
        exists, collection = courses_repo.collection_of(session, course_id)
        if not exists:
            raise NotFound(f"Course {course_id} not found", code="course_not_found")
        if session_id:
            chat = chat_repo.get_session(session, session_id)
            if chat is None or chat.course_id != course_id:
                raise NotFound(f"Chat session {session_id} not found for course {course_id}",
                               code="session_not_found")
            history = _turns(chat_repo.recent_turns(session, session_id, 2 * HISTORY_TURNS))
        else:
            session_id, history = chat_repo.create_session(session, course_id).id, []
    query = expand_query(question, history)
    passages = ctx.retriever.search(collection, query, top_k=TOP_K) if collection else []
    return Prepared(question, session_id, history, passages)


def _turns(messages) -> list[Turn]:
    turns, pending = [], None
    for m in messages:
        if m.role == "user":
            pending = m.content
        elif pending is not None:
            turns.append((pending, m.content))
            pending = None
    return turns


def stream(ctx: Container, prepared: Prepared) -> Iterator[str | ChatAnswer]:
    """The answer's text pieces, then the ChatAnswer; the exchange is saved at the end."""
    answer = None
    for piece in ctx.generator.stream_answer(prepared.question, prepared.passages, prepared.history):
        if isinstance(piece, ChatAnswer):
            answer = piece
        yield piece
    assert answer is not None
    with session_scope(ctx.sessions) as session:
        chat_repo.add_message(session, prepared.session_id, "user", prepared.question)
        chat_repo.add_message(session, prepared.session_id, "assistant", answer.text,
                              sources(answer, prepared.passages))


def ask(ctx: Container, course_id: Any, question: str | None, session_id: str | None = None
        ) -> tuple[Prepared, ChatAnswer]:
    prepared = prepare(ctx, course_id, question, session_id)
    return prepared, final_answer(stream(ctx, prepared))


def sources(answer: ChatAnswer, passages: Sequence[Passage]) -> list[dict[str, Any]]:
    """Each cited passage: file, pages, the quoted sentences and the retrieval score."""
    score = {p.id: p.score for p in passages}
    return [{"number": c.number, "file": c.source_file, "page": c.page_start, "page_end": c.page_end,
             "quote": " ".join(c.quotes), "score": round(score.get(c.passage_id, 0.0), 4),
             "passage_id": c.passage_id} for c in answer.citations]
