"""Lessons marked done, and one person's quiz attempts in a course."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from profai.db.models import Lesson, LessonProgress, Module, Quiz, QuizAttempt, utcnow


def lesson(session: Session, lesson_id: int) -> Lesson | None:
    return session.get(Lesson, lesson_id)


def mark_done(session: Session, user_id: int, lesson_id: int) -> datetime:
    """Mark the lesson done (again: the first time is kept); when it was first marked."""
    row = session.get(LessonProgress, (user_id, lesson_id))
    if row is None:
        row = LessonProgress(user_id=user_id, lesson_id=lesson_id, done_at=utcnow())
        session.add(row)
        session.flush()
    return row.done_at


def unmark(session: Session, user_id: int, lesson_id: int) -> None:
    session.execute(delete(LessonProgress).where(LessonProgress.user_id == user_id,
                                                 LessonProgress.lesson_id == lesson_id))
    session.flush()


def done_in_course(session: Session, user_id: int, course_id: int) -> list[tuple[int, datetime]]:
    """(lesson id, done at) of the course's lessons the user marked done, in the course's order."""
    q = (select(LessonProgress.lesson_id, LessonProgress.done_at)
         .join(Lesson, Lesson.id == LessonProgress.lesson_id).join(Module, Module.id == Lesson.module_id)
         .where(LessonProgress.user_id == user_id, Lesson.course_id == course_id)
         .order_by(Module.position, Lesson.position))
    return [(lesson_id, done_at) for lesson_id, done_at in session.execute(q)]


def attempts_in_course(session: Session, user_id: int, course_id: int) -> list[tuple[QuizAttempt, Quiz]]:
    """The user's quiz attempts in the course with their quiz, oldest first."""
    q = (select(QuizAttempt, Quiz).join(Quiz, Quiz.id == QuizAttempt.quiz_id)
         .where(Quiz.course_id == course_id, QuizAttempt.user_id == user_id)
         .order_by(QuizAttempt.created_at, QuizAttempt.id))
    return [(attempt, quiz) for attempt, quiz in session.execute(q)]
