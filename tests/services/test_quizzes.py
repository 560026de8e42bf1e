"""Quizzes from a stored course: each question names the page its sentence is on, read from the
page marks saved with the lesson; wrong options are ranked with the app's embedder; students see
each question's kind."""

from __future__ import annotations

import random
import re

from profai.db import courses_repo
from profai.db.engine import session_scope
from profai.db.models import Quiz
from profai.domain import CLI, Block
from profai.providers.generator import ExtractiveGenerator
from profai.providers.generator.quiz import KINDS, QuizLesson, make_questions
from profai.providers.generator.sections import prose_only
from profai.services.quizzes import create_quiz, for_student
from support import squash, starts_on


def test_every_question_names_the_page_of_its_sentence(ctx, r_intro):
    draft = ExtractiveGenerator().build_course("R chapters 2-5", [r_intro])
    with session_scope(ctx.sessions) as s:
        course_id = courses_repo.replace_for_job(s, job_id=None, draft=draft, generator="extractive",
                                                 collection=None, source_files=[]).id
        first_page = {lesson.id: lesson.page_start for m in courses_repo.get(s, course_id).modules
                      for lesson in m.lessons}
    pages = {p.number: squash(p.text) for p in r_intro.pages}
    quiz = create_quiz(ctx, CLI, course_id, questions=30, difficulty="medium", seed=4)
    assert len(quiz.questions) == 30
    later_pages = 0
    for q in quiz.questions:
        assert q["kind"] in KINDS
        sentence = re.fullmatch(r'The course says: "(.*)" \(R-intro\.pdf, page (\d+)\)', q["explanation"]).group(1)
        page = q["source"]["page"]
        # The sentence starts on the page named and may run over onto the next.
        assert starts_on(sentence, pages, page), (sentence, page)
        later_pages += page > first_page[q["lesson_id"]]
    assert later_pages >= 5  # not just each lesson's first page


def test_quizzes_rank_wrong_options_with_the_apps_embedder(ctx, r_intro):
    draft = ExtractiveGenerator().build_course("R chapters 2-5", [r_intro])
    with session_scope(ctx.sessions) as s:
        course_id = courses_repo.replace_for_job(s, job_id=None, draft=draft, generator="extractive",
                                                 collection=None, source_files=[]).id
        lessons = [QuizLesson(str(le.id), le.title, prose_only(le.content, [Block(**b) for b in le.blocks]),
                              list(le.key_terms), le.source_file, le.page_start, le.page_end, le.page_marks)
                   for m in courses_repo.get(s, course_id).modules for le in m.lessons]
    quiz = create_quiz(ctx, CLI, course_id, questions=12, difficulty="hard", seed=9)
    by_meaning = make_questions(lessons, 12, "hard", random.Random(9), ctx.embedder.embed)
    assert [q["prompt"] for q in quiz.questions] == [d.prompt for d in by_meaning]
    assert [q["options"] for q in quiz.questions] == [d.options for d in by_meaning]
    assert [q["kind"] for q in quiz.questions] == [d.kind for d in by_meaning]
    assert by_meaning != make_questions(lessons, 12, "hard", random.Random(9))  # not ranked by place
    # Students see each question's kind, never its answer.
    for shown, q in zip(for_student(quiz), quiz.questions):
        assert shown == {k: q[k] for k in ("id", "kind", "prompt", "options", "lesson_id", "source")}
        assert shown["kind"] in KINDS


def test_questions_stored_before_kinds_were_recorded_get_one():
    quiz = Quiz(questions=[
        {"id": "q1", "prompt": "Fill in the blank: A _____ is a vector of non-negative integers.",
         "options": ["dimension vector", "factor", "matrix", "list"], "lesson_id": 1, "source": {"page": 3}},
        {"id": "q2", "prompt": "Which pigment absorbs red and blue light?",
         "options": ["Chlorophyll", "Keratin", "Melanin", "Heme"], "lesson_id": 1, "source": {"page": 1}}])
    assert [q["kind"] for q in for_student(quiz)] == ["cloze", "question"]
