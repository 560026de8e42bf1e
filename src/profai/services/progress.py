"""Progress: lessons a person marked done, their quiz history per module, and for a course's
teacher the questions the class most often gets wrong."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from profai.db import courses_repo, progress_repo
from profai.db.engine import session_scope
from profai.domain import Principal
from profai.errors import Forbidden, NotFound
from profai.services import access
from profai.services import quizzes as quiz_service
from profai.services.deps import HasSessions

MAX_MISSED = 100


@dataclass
class ModuleHistory:
    """Attempts at quizzes on one module (module_id None: quizzes over the whole course)."""

    module_id: int | None
    title: str
    attempts: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class CourseProgress:
    course_id: int
    lessons_total: int
    done: list[tuple[int, datetime]]
    modules: list[ModuleHistory]


def _account(who: Principal) -> int:
    # The API_KEY admin and the CLI act for nobody in particular: there is no one to keep progress for.
    if who.user_id is None:
        raise Forbidden("Progress is kept per account; this key belongs to none", code="account_required")
    return who.user_id


def set_done(ctx: HasSessions, who: Principal, lesson_id: int, done: bool) -> datetime | None:
    """Mark a lesson of a course the caller reads as done, or not; when it was marked done."""
    user_id = _account(who)
    with session_scope(ctx.sessions) as session:
        lesson = progress_repo.lesson(session, lesson_id)
        course = courses_repo.head(session, lesson.course_id) if lesson is not None else None
        if lesson is None or course is None or not access.can_read(session, who, course):
            raise NotFound(f"Lesson {lesson_id} not found", code="lesson_not_found")
        if done:
            return progress_repo.mark_done(session, user_id, lesson_id)
        progress_repo.unmark(session, user_id, lesson_id)
        return None


def course_progress(ctx: HasSessions, who: Principal, course_id: int) -> CourseProgress:
    """The caller's done lessons and quiz attempts in the course, attempts grouped by module."""
    with session_scope(ctx.sessions) as session:
        access.course_for(session, who, course_id)
        course = courses_repo.get(session, course_id)  # with its modules and lessons
        assert course is not None  # course_for found it, in this transaction
        titles: dict[int | None, str] = {m.id: m.title for m in course.modules}
        total = sum(len(m.lessons) for m in course.modules)
        user_id = who.user_id if who.user_id is not None else -1  # no account: no progress of its own
        done = progress_repo.done_in_course(session, user_id, course_id)
        groups: dict[int | None, ModuleHistory] = {}
        for attempt, quiz in progress_repo.attempts_in_course(session, user_id, course_id):
            # A quiz on a module since removed (course rebuilt) counts with the whole course.
            key = quiz.module_id if quiz.module_id in titles else None
            group = groups.setdefault(key, ModuleHistory(key, titles.get(key) or "The whole course"))
            group.attempts.append({"attempt_id": attempt.id, "quiz_id": quiz.id, "difficulty": quiz.difficulty,
                                   "score": attempt.score, "total": attempt.total,
                                   "created_at": attempt.created_at})
        order = [None, *titles]
        modules = sorted(groups.values(), key=lambda g: order.index(g.module_id))
        return CourseProgress(course_id, total, done, modules)


def missed_questions(ctx: quiz_service.QuizDeps, who: Principal, course_id: int, limit: int = 10) -> list[dict[str, Any]]:
    """The course's quiz questions answered wrong most often in its attempts (teacher and admins)."""
    limit = max(1, min(limit, MAX_MISSED))
    tally: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])  # -> [answered, missed]
    questions: dict[tuple[str, str], dict[str, Any]] = {}
    for quiz, attempts in quiz_service.class_results(ctx, who, course_id):  # checks that who manages it
        for q in quiz.questions:
            questions[(quiz.id, q["id"])] = {"quiz_id": quiz.id, "quiz_created_at": quiz.created_at,
                                             "difficulty": quiz.difficulty, "question_id": q["id"],
                                             "prompt": q["prompt"], "correct_option": q["options"][q["correct_index"]],
                                             "source": q.get("source") or {}}
        for attempt in attempts:
            for f in attempt.feedback:
                counts = tally[(quiz.id, f["question_id"])]
                counts[0] += 1
                counts[1] += not f["correct"]
    ranked = sorted(((key, answered, missed) for key, (answered, missed) in tally.items()
                     if missed and key in questions), key=lambda t: (-t[2], -t[2] / t[1]))
    return [{**questions[key], "answered": answered, "missed": missed} for key, answered, missed in ranked[:limit]]
