"""A course's class: students join with a code; its teacher sees who joined and their results."""

from __future__ import annotations

from fastapi import APIRouter

from profai.api.deps import CtxDep, User
from profai.api.errors import responses
from profai.api.ids import CourseId
from profai.schemas.accounts import (
    AttemptResult,
    ClassResults,
    JoinCode,
    Joined,
    JoinIn,
    QuestionResult,
    QuizResults,
    Student,
    StudentList,
    StudentResults,
)
from profai.services import courses as course_service
from profai.services import quizzes as quiz_service

router = APIRouter(prefix="/api", tags=["classes"])


@router.post("/join", response_model=Joined, responses=responses(404))
def join(ctx: CtxDep, who: User, body: JoinIn) -> Joined:
    """A student joins the course whose join code this is."""
    course, new = course_service.join(ctx, who, body.code)
    return Joined(course_id=course.id, title=course.title, new=new)


@router.post("/courses/{course_id}/join-code", response_model=JoinCode)
def new_join_code(ctx: CtxDep, who: User, course_id: CourseId) -> JoinCode:
    """Replace the join code (the old one stops working; students who joined stay)."""
    return JoinCode(course_id=course_id, join_code=course_service.new_join_code(ctx, who, course_id))


@router.get("/courses/{course_id}/students", response_model=StudentList, responses=responses(403))
def students(ctx: CtxDep, who: User, course_id: CourseId) -> StudentList:
    return StudentList(students=[Student(id=u.id, email=u.email, name=u.name, joined_at=at)
                                 for u, at in course_service.students(ctx, who, course_id)])


@router.get("/courses/{course_id}/results", response_model=ClassResults, responses=responses(403))
def results(ctx: CtxDep, who: User, course_id: CourseId) -> ClassResults:
    """Each quiz of the course with its attempts by student, question by question (teacher only)."""
    quizzes = []
    for quiz, attempts in quiz_service.class_results(ctx, who, course_id):
        by_student: dict[int | None, StudentResults] = {}
        for a in attempts:
            row = by_student.setdefault(a.user_id, StudentResults(user_id=a.user_id, email=a.student or "",
                                                                  attempts=[]))
            row.attempts.append(AttemptResult(
                attempt_id=a.id, score=a.score, total=a.total, created_at=a.created_at,
                questions=[QuestionResult(question_id=f["question_id"], correct=f["correct"]) for f in a.feedback]))
        quizzes.append(QuizResults(quiz_id=quiz.id, difficulty=quiz.difficulty, created_at=quiz.created_at,
                                   questions=len(quiz.questions), students=list(by_student.values())))
    return ClassResults(course_id=course_id, quizzes=quizzes)
