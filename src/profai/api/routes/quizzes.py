"""Quizzes: generate from a course, fetch without answers, submit attempts and list them."""

from __future__ import annotations

from fastapi import APIRouter

from profai.api.deps import CtxDep, User
from profai.api.errors import responses
from profai.api.ids import CourseId, QuizId
from profai.db.models import Quiz, QuizAttempt
from profai.schemas.learning import AttemptIn, AttemptList, AttemptOut, QuizIn, QuizOut
from profai.services import quizzes as quiz_service

router = APIRouter(prefix="/api", tags=["quizzes"])


def _quiz(quiz: Quiz) -> QuizOut:
    return QuizOut(quiz_id=quiz.id, course_id=quiz.course_id, module_id=quiz.module_id, difficulty=quiz.difficulty,
                   seed=quiz.seed, max_attempts=quiz.max_attempts, generator=quiz.generator,
                   questions=quiz_service.for_student(quiz), created_at=quiz.created_at)


def _attempt(a: QuizAttempt) -> AttemptOut:
    return AttemptOut(attempt_id=a.id, quiz_id=a.quiz_id, student=a.student, score=a.score, total=a.total,
                      feedback=a.feedback, created_at=a.created_at)


@router.post("/courses/{course_id}/quizzes", status_code=201, response_model=QuizOut)
def create_quiz(ctx: CtxDep, who: User, course_id: CourseId, body: QuizIn | None = None) -> QuizOut:
    """Multiple-choice questions from the course (or one module); answers stay on the server."""
    body = body or QuizIn()
    return _quiz(quiz_service.create_quiz(ctx, who, course_id, questions=body.questions, difficulty=body.difficulty,
                                          module_id=body.module_id, seed=body.seed, max_attempts=body.max_attempts))


@router.get("/quizzes/{quiz_id}", response_model=QuizOut)
def get_quiz(ctx: CtxDep, who: User, quiz_id: QuizId) -> QuizOut:
    return _quiz(quiz_service.get_quiz(ctx, who, quiz_id))


@router.post("/quizzes/{quiz_id}/attempts", status_code=201, response_model=AttemptOut, responses=responses(409))
def submit_attempt(ctx: CtxDep, who: User, quiz_id: QuizId, body: AttemptIn) -> AttemptOut:
    """Grade the answers: the score, and per question whether it was right, why, and where to read."""
    return _attempt(quiz_service.submit_attempt(ctx, who, quiz_id, body.answers, body.student))


@router.get("/quizzes/{quiz_id}/attempts", response_model=AttemptList)
def list_attempts(ctx: CtxDep, who: User, quiz_id: QuizId) -> AttemptList:
    """Every attempt for the course's teacher; a student sees their own."""
    return AttemptList(attempts=[_attempt(a) for a in quiz_service.list_attempts(ctx, who, quiz_id)])
