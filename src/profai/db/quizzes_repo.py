"""Quizzes and the attempts students submit."""

from __future__ import annotations

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


def count_attempts(session: Session, quiz_id: str) -> int:
    return session.scalar(select(func.count()).where(QuizAttempt.quiz_id == quiz_id)) or 0


def add_attempt(session: Session, quiz_id: str, **fields: Any) -> QuizAttempt:
    attempt = QuizAttempt(quiz_id=quiz_id, **fields)
    session.add(attempt)
    session.flush()
    return attempt


def attempts(session: Session, quiz_id: str) -> list[QuizAttempt]:
    return list(session.scalars(select(QuizAttempt).where(QuizAttempt.quiz_id == quiz_id).order_by(QuizAttempt.id)))
