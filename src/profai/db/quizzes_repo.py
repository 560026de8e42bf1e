"""Quizzes and the attempts students submit."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from profai.db.models import Quiz, QuizAttempt


def create(session: Session, quiz: Quiz) -> Quiz:
    session.add(quiz)
    session.flush()
    return quiz


def get(session: Session, quiz_id: str, *, lock: bool = False) -> Quiz | None:
    """`lock` holds the row until commit (PostgreSQL), so two submissions count attempts in turn."""
    return session.get(Quiz, quiz_id, with_for_update=lock or None)


def count_attempts(session: Session, quiz_id: str, user_id: int | None = None) -> int:
    """Attempts at the quiz: one user's, or (None) those of no account."""
    owned = QuizAttempt.user_id == user_id if user_id is not None else QuizAttempt.user_id.is_(None)
    return session.scalar(select(func.count()).where(QuizAttempt.quiz_id == quiz_id, owned)) or 0


def add_attempt(session: Session, quiz_id: str, **fields: Any) -> QuizAttempt:
    attempt = QuizAttempt(quiz_id=quiz_id, **fields)
    session.add(attempt)
    session.flush()
    return attempt


def attempts(session: Session, quiz_id: str, user_id: int | None = None) -> list[QuizAttempt]:
    """A quiz's attempts in order: everyone's, or one user's."""
    q = select(QuizAttempt).where(QuizAttempt.quiz_id == quiz_id).order_by(QuizAttempt.id)
    if user_id is not None:
        q = q.where(QuizAttempt.user_id == user_id)
    return list(session.scalars(q))


def attempts_by_quiz(session: Session, course_id: int) -> dict[str, list[QuizAttempt]]:
    """Every attempt at the course's quizzes, in order, by quiz id: the whole class in one query."""
    q = (select(QuizAttempt).join(Quiz, Quiz.id == QuizAttempt.quiz_id)
         .where(Quiz.course_id == course_id).order_by(QuizAttempt.id))
    out: dict[str, list[QuizAttempt]] = defaultdict(list)
    for attempt in session.scalars(q):
        out[attempt.quiz_id].append(attempt)
    return out


def of_course(session: Session, course_id: int) -> list[Quiz]:
    return list(session.scalars(select(Quiz).where(Quiz.course_id == course_id).order_by(Quiz.created_at)))
