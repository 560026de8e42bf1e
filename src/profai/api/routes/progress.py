"""Progress: lessons marked done and quiz history (one's own); the class's most missed questions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from profai.api.deps import CtxDep, User
from profai.api.errors import responses
from profai.api.ids import CourseId, LessonId
from profai.schemas.study import LessonDone, MissedQuestion, MissedQuestions, ModuleQuizzes, Progress
from profai.services import progress

router = APIRouter(prefix="/api", tags=["progress"])


@router.put("/lessons/{lesson_id}/done", response_model=LessonDone, responses=responses(403, 404))
def mark_done(ctx: CtxDep, who: User, lesson_id: LessonId) -> LessonDone:
    """Mark a lesson done (marking it again keeps the first time)."""
    done_at = progress.set_done(ctx, who, lesson_id, True)
    assert done_at is not None
    return LessonDone(lesson_id=lesson_id, done_at=done_at)


@router.delete("/lessons/{lesson_id}/done", status_code=204, responses=responses(403, 404))
def unmark_done(ctx: CtxDep, who: User, lesson_id: LessonId) -> None:
    progress.set_done(ctx, who, lesson_id, False)


@router.get("/courses/{course_id}/progress", response_model=Progress, responses=responses(404))
def course_progress(ctx: CtxDep, who: User, course_id: CourseId) -> Progress:
    """Your lessons done and your quiz attempts in the course, by module, oldest first."""
    p = progress.course_progress(ctx, who, course_id)
    return Progress(course_id=p.course_id, lessons_total=p.lessons_total,
                    lessons_done=[LessonDone(lesson_id=i, done_at=at) for i, at in p.done],
                    quizzes=[ModuleQuizzes(module_id=m.module_id, title=m.title, attempts=m.attempts)
                             for m in p.modules])


@router.get("/courses/{course_id}/results/questions", response_model=MissedQuestions, responses=responses(403, 404))
def missed_questions(ctx: CtxDep, who: User, course_id: CourseId,
                     limit: Annotated[int, Query(ge=1, le=progress.MAX_MISSED)] = 10) -> MissedQuestions:
    """The course's quiz questions its class got wrong most often (the course's teacher and admins)."""
    return MissedQuestions(course_id=course_id, questions=[
        MissedQuestion(**q) for q in progress.missed_questions(ctx, who, course_id, limit)])
