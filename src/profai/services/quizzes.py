"""Quizzes: generate multiple-choice questions from a course, hand them out without answers,
grade submitted attempts and keep them."""

from __future__ import annotations

import random
import secrets
import uuid
from typing import Any, Protocol

from sqlalchemy.orm import Session

from profai.db import courses_repo, quizzes_repo
from profai.db.engine import session_scope
from profai.db.models import Course, Quiz, QuizAttempt
from profai.domain import Block, Principal
from profai.errors import Conflict, InvalidInput, NotFound
from profai.providers.generator.quiz import CLOZE_PROMPT, DIFFICULTIES, FREE_KIND, QuizLesson
from profai.providers.generator.sections import prose_only
from profai.services import access
from profai.services.deps import HasEmbedder, HasGenerator, HasSessions


class QuizDeps(HasSessions, HasGenerator, HasEmbedder, Protocol):
    """What this service uses of the wiring: the embedder ranks wrong options by meaning."""


MAX_QUESTIONS = 30


def create_quiz(
    ctx: QuizDeps, who: Principal, course_id: int, *, questions: int = 5, difficulty: str = "medium", module_id: int | None = None,
    seed: int | None = None, max_attempts: int | None = None,
) -> Quiz:
    if not 1 <= questions <= MAX_QUESTIONS:
        raise InvalidInput(f"questions must be between 1 and {MAX_QUESTIONS}", code="invalid_question_count")
    if difficulty not in DIFFICULTIES:
        raise InvalidInput(f"difficulty must be one of {', '.join(DIFFICULTIES)}", code="invalid_difficulty")
    if max_attempts is not None and max_attempts < 1:
        raise InvalidInput("max_attempts must be at least 1", code="invalid_max_attempts")
    with session_scope(ctx.sessions) as session:
        access.course_for(session, who, course_id)
        course = courses_repo.get(session, course_id)
        if course is None:
            raise NotFound(f"Course {course_id} not found", code="course_not_found")
        modules = [m for m in course.modules if module_id is None or m.id == module_id]
        if not modules:
            raise NotFound(f"Module {module_id} not found in course {course_id}", code="module_not_found")
        labels = course.page_labels()
        # Questions come from prose only: never a line of code or a heading.
        lessons = [QuizLesson(lesson_id=str(lesson.id), title=lesson.title,
                              content=prose_only(lesson.content, [Block(**b) for b in lesson.blocks]),
                              key_terms=list(lesson.key_terms), source_file=lesson.source_file,
                              page_start=lesson.page_start, page_end=lesson.page_end,
                              page_marks=lesson.page_marks, page_labels=labels.get(lesson.source_file, []))
                   for m in modules for lesson in m.lessons]
    # Without a seed every request draws a new one, so asking twice gives a different quiz.
    seed = secrets.randbelow(2**31) if seed is None else seed
    drafts = ctx.generator.quiz_questions(lessons, questions, difficulty, random.Random(seed), ctx.embedder.embed)
    if not drafts:
        raise InvalidInput("This part of the course has too little text to write questions from",
                           code="not_enough_material")
    stored = [{"id": f"q{n}", "kind": d.kind, "prompt": d.prompt, "options": list(d.options),
               "correct_index": d.correct_index, "explanation": d.explanation, "lesson_id": int(d.lesson_id),
               "source": {"file": d.source_file, "page": d.page}} for n, d in enumerate(drafts, start=1)]
    with session_scope(ctx.sessions) as session:
        return quizzes_repo.create(session, Quiz(
            id=str(uuid.uuid4()), course_id=course_id, module_id=module_id, difficulty=difficulty, seed=seed,
            max_attempts=max_attempts, generator=ctx.generator.name, questions=stored))


def get_quiz(ctx: QuizDeps, who: Principal, quiz_id: str) -> Quiz:
    """The quiz, if `who` may read its course."""
    with session_scope(ctx.sessions) as session:
        return _quiz_for(session, who, quiz_id)[0]


def _quiz_for(session: Session, who: Principal, quiz_id: str, *, lock: bool = False) -> tuple[Quiz, Course]:
    """The quiz and its course (row only) if `who` may read the course; else 404 as if there were none."""
    quiz = quizzes_repo.get(session, quiz_id, lock=lock)
    course = courses_repo.head(session, quiz.course_id) if quiz is not None else None
    if quiz is None or course is None or not access.can_read(session, who, course):
        raise NotFound(f"Quiz {quiz_id} not found", code="quiz_not_found")
    return quiz, course


def for_student(quiz: Quiz) -> list[dict[str, Any]]:
    """The questions without their answers or explanations."""
    return [{"kind": kind_of(q), **{k: q[k] for k in ("id", "prompt", "options", "lesson_id", "source")}}
            for q in quiz.questions]


def kind_of(question: dict[str, Any]) -> str:
    """The question's kind; quizzes stored before kinds were recorded held cloze questions from the
    extractive generator and free questions from a language model."""
    if "kind" in question:
        return str(question["kind"])
    return "cloze" if question["prompt"].startswith(CLOZE_PROMPT) else FREE_KIND


def submit_attempt(ctx: QuizDeps, who: Principal, quiz_id: str, answers: Any, student: str | None = None
                   ) -> QuizAttempt:
    """Grade one attempt: every question answered once with a valid option; stored with feedback."""
    if not isinstance(answers, dict) or not answers:
        raise InvalidInput("answers must map each question id to the index of the chosen option",
                           code="missing_answers")
    with session_scope(ctx.sessions) as session:
        quiz = _quiz_for(session, who, quiz_id, lock=True)[0]
        by_id = {q["id"]: q for q in quiz.questions}
        unknown = sorted(set(answers) - set(by_id))
        if unknown:
            raise InvalidInput(f"No such question(s) in this quiz: {', '.join(unknown)}", code="unknown_question")
        missing = [q for q in by_id if q not in answers]
        if missing:
            raise InvalidInput(f"Answer every question; missing: {', '.join(missing)}", code="missing_answers")
        for qid, chosen in answers.items():
            if not isinstance(chosen, int) or isinstance(chosen, bool) or not 0 <= chosen < len(by_id[qid]["options"]):
                raise InvalidInput(f"Answer to {qid} must be an option index from 0 to "
                                   f"{len(by_id[qid]['options']) - 1}", code="invalid_option")
        used = quizzes_repo.count_attempts(session, quiz_id, who.user_id)
        if quiz.max_attempts is not None and used >= quiz.max_attempts:
            raise Conflict(f"This quiz allows {quiz.max_attempts} attempt(s) and they have been used",
                           code="attempts_exhausted")
        feedback = [{"question_id": q["id"], "correct": answers[q["id"]] == q["correct_index"],
                     "chosen": answers[q["id"]], "correct_index": q["correct_index"],
                     "correct_option": q["options"][q["correct_index"]], "explanation": q["explanation"],
                     "source": q["source"]} for q in quiz.questions]
        name = (student or "").strip()[:100] or who.email or None
        return quizzes_repo.add_attempt(session, quiz_id, student=name, user_id=who.user_id,
                                        answers=answers, score=sum(f["correct"] for f in feedback),
                                        total=len(feedback), feedback=feedback)


def list_attempts(ctx: QuizDeps, who: Principal, quiz_id: str) -> list[QuizAttempt]:
    """Every attempt for the course's teacher and admins; a student's own for a student."""
    with session_scope(ctx.sessions) as session:
        course = _quiz_for(session, who, quiz_id)[1]
        return quizzes_repo.attempts(session, quiz_id, None if access.manages(who, course) else who.user_id or -1)


def class_results(ctx: QuizDeps, who: Principal, course_id: int) -> list[tuple[Quiz, list[QuizAttempt]]]:
    """Each of the course's quizzes with every attempt, for its teacher: by student, per question."""
    with session_scope(ctx.sessions) as session:
        access.course_for(session, who, course_id, manage=True)
        by_quiz = quizzes_repo.attempts_by_quiz(session, course_id)
        return [(quiz, by_quiz.get(quiz.id, [])) for quiz in quizzes_repo.of_course(session, course_id)]
