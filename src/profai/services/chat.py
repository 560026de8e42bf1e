"""Chat with a course: retrieve passages (hybrid), answer from them with citations, keep the
conversation so that follow-up questions make sense."""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.orm import Session

from profai.db import chat_repo, courses_repo, jobs_repo
from profai.db.engine import session_scope
from profai.db.models import ChatMessage, Course
from profai.domain import MAX_ID, ChatAnswer, Passage, Principal, Turn, page_label
from profai.errors import Conflict, InvalidInput, NotFound
from profai.providers.generator.answer import expand_query
from profai.providers.generator.base import final_answer
from profai.retrieval.hybrid import Scope
from profai.services import access
from profai.services.deps import HasGenerator, HasRetriever, HasSessions

MAX_QUESTION_CHARS = 2000
TOP_K = 5
HISTORY_TURNS = 3


class ChatDeps(HasSessions, HasRetriever, HasGenerator, Protocol):
    """What this service uses of the wiring."""


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
    page_labels: dict[str, list[str | None]] = field(default_factory=dict)  # file -> printed page numbers


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID


def prepare(ctx: ChatDeps, who: Principal, course_id: Any, question: str | None, session_id: str | None = None,
            lesson_id: Any = None) -> Prepared:
    """Validate, open or continue the caller's session, and retrieve passages for the question:
    from the whole course, or from one lesson's pages when `lesson_id` is given."""
    question = clean_question(question)
    if not _is_id(course_id):
        raise InvalidInput("course_id must be a course's number", code="missing_course_id")
    if lesson_id is not None and not _is_id(lesson_id):
        raise InvalidInput("lesson_id must be the number of a lesson of the course", code="invalid_lesson_id")
    if session_id is not None and (not isinstance(session_id, str) or len(session_id) > 64):
        raise InvalidInput("session_id must be the id of one of your chat sessions", code="invalid_session_id")
    with session_scope(ctx.sessions) as session:
        course = access.course_for(session, who, course_id)
        if course.indexed_at is None:
            raise still_indexing(session, course)
        collection = course.collection
        labels = course.page_labels()
        scope = None
        if lesson_id is not None:
            lesson = courses_repo.get_lesson(session, course_id, lesson_id)
            if lesson is None:
                raise NotFound(f"Lesson {lesson_id} not found in course {course_id}", code="lesson_not_found")
            scope = Scope(lesson.source_file, lesson.page_start, lesson.page_end)
        if session_id:
            chat = chat_repo.get_session(session, session_id)
            if chat is None or chat.course_id != course_id or chat.user_id != who.user_id:
                raise NotFound(f"Chat session {session_id} not found for course {course_id}",
                               code="session_not_found")
            history = _turns(chat_repo.recent_turns(session, session_id, 2 * HISTORY_TURNS))
        else:
            session_id, history = chat_repo.create_session(session, course_id, who.user_id).id, []
    query = expand_query(question, history)
    passages = ctx.retriever.search(collection, query, top_k=TOP_K, within=scope) if collection else []
    return Prepared(question, session_id, history, passages, labels)


def still_indexing(session: Session, course: Course) -> Conflict:
    """Chat waits for the index; the course itself can be read meanwhile."""
    job = jobs_repo.get(session, course.job_id) if course.job_id else None
    done = f" ({job.step_progress}% done)" if job is not None and job.step_progress is not None else ""
    return Conflict(f"This course is still being indexed for chat{done}. Its lessons, quizzes and audio are "
                    "ready; ask again in a moment.", code="course_indexing")


def _turns(messages: Sequence[ChatMessage]) -> list[Turn]:
    turns: list[Turn] = []
    pending: str | None = None
    for m in messages:
        if m.role == "user":
            pending = m.content
        elif pending is not None:
            turns.append((pending, m.content))
            pending = None
    return turns


def stream(ctx: ChatDeps, prepared: Prepared) -> Generator[str | ChatAnswer]:
    """The answer's text pieces, then the ChatAnswer; the exchange is saved at the end."""
    answer = None
    for piece in ctx.generator.stream_answer(prepared.question, prepared.passages, prepared.history):
        if isinstance(piece, ChatAnswer):
            answer = piece
        yield piece
    assert answer is not None
    save(ctx, prepared, answer.text, sources(answer, prepared))


def save(ctx: HasSessions, prepared: Prepared, answer: str, cited: list[dict[str, Any]]) -> None:
    """Keep the exchange: the question and the answer (as far as it went, when it was stopped)."""
    with session_scope(ctx.sessions) as session:
        chat_repo.add_message(session, prepared.session_id, "user", prepared.question)
        chat_repo.add_message(session, prepared.session_id, "assistant", answer, cited)


def ask(ctx: ChatDeps, who: Principal, course_id: Any, question: str | None, session_id: str | None = None,
        lesson_id: Any = None) -> tuple[Prepared, ChatAnswer]:
    prepared = prepare(ctx, who, course_id, question, session_id, lesson_id)
    return prepared, final_answer(stream(ctx, prepared))


def sources(answer: ChatAnswer, prepared: Prepared) -> list[dict[str, Any]]:
    """Each cited passage: file, pages (the PDF's index, and the number printed on the first where
    the PDF shows one), the quoted sentences and the retrieval score."""
    score = {p.id: p.score for p in prepared.passages}
    return [{"number": c.number, "file": c.source_file, "page": c.page_start, "page_end": c.page_end,
             "page_label": page_label(prepared.page_labels.get(c.source_file, []), c.page_start),
             "quote": " ".join(c.quotes), "score": round(score.get(c.passage_id, 0.0), 4),
             "passage_id": c.passage_id} for c in answer.citations]
