"""Quizzes from a stored course: each question names the page its sentence is on, read from the
page marks saved with the lesson."""

from __future__ import annotations

import re

from profai.db import courses_repo
from profai.db.engine import session_scope
from profai.domain import CLI
from profai.providers.generator import ExtractiveGenerator
from profai.services.quizzes import create_quiz
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
        sentence = re.fullmatch(r'The course says: "(.*)" \(R-intro\.pdf, page (\d+)\)', q["explanation"]).group(1)
        page = q["source"]["page"]
        # The sentence starts on the page named and may run over onto the next.
        assert starts_on(sentence, pages, page), (sentence, page)
        later_pages += page > first_page[q["lesson_id"]]
    assert later_pages >= 5  # not just each lesson's first page
