"""Which sentences of real lessons questions are made from: prose only, each key term once, and the
definitions the lessons give."""

import random

import pytest
from test_quiz import CODE, R_INTRO, lessons_of

from factories import make_pdf
from profai.ingest.pdf import read_pdf
from profai.providers.generator.quiz import BLANK, course_material, make_questions
from profai.providers.generator.quiz_sentences import code_like, definitions, items, prose_sentences
from profai.providers.generator.quiz_terms import occurrences
from profai.text import split_sentences


@pytest.fixture(scope="module")
def r_lessons():
    return lessons_of(read_pdf(R_INTRO, "R-intro.pdf"))


@pytest.fixture(scope="module")
def bio_lessons(tmp_path_factory):
    return lessons_of(read_pdf(make_pdf(tmp_path_factory.mktemp("bio") / "bio.pdf"), "bio.pdf"))


def material(lessons):
    return course_material(tuple((lesson.content, tuple(lesson.key_terms)) for lesson in lessons))


def test_code_in_r_intro_is_never_a_source(r_lessons):
    # Code blocks are blanked out of the lessons' text before questions are drawn (prose_only);
    # what code stays is inline, inside sentences, and is filtered sentence by sentence.
    every = [s for lesson in r_lessons for s in split_sentences(lesson.content)]
    coded = [s for s in every if CODE.search(s)]
    assert len(coded) > 200  # R-intro is full of inline code: the check has work to do
    assert all(code_like(s) for s in coded)
    prose = [s.text for i, lesson in enumerate(r_lessons) for s in prose_sentences(lesson.content, i)]
    assert len(prose) > 500 and not any(CODE.search(s) for s in prose)
    # The sentence that gave "To find out the _____ of a factor the function _____() can be used."
    levels = "To find out the levels of a factor the function levels() can be used."
    assert levels in every and levels not in prose
    quizzes = [q for seed in range(4) for q in make_questions(r_lessons, 30, "medium", random.Random(seed))]
    assert not any(levels in q.explanation or "levels()" in q.prompt for q in quizzes)


@pytest.mark.parametrize("text", [
    "> x <- c(10.4, 5.6, 3.1, 6.4, 21.7)",
    "The function levels() can be used.",
    "Then Lst$name is the first component.",
    "for (i in 1:n) { y[i] <- x[i] }",
    "Use the argument breaks=10 for ten bins.",
    "Delete with C-k as usual.",
    "See dev.print for a copy of the device.",
])
def test_code_like_text(text):
    assert code_like(text)


@pytest.mark.parametrize("text", [
    "A dimension vector is a vector of non-negative integers.",
    "Photosynthesis is the process by which green plants convert light energy into chemical energy.",
    "Index matrices must be numerical: any other form of matrix (e.g. a logical matrix) is treated as a vector.",
])
def test_prose_is_not_code(text):
    assert not code_like(text)


def test_a_term_twice_in_a_sentence_is_never_blanked(r_lessons):
    course = material(r_lessons)
    twice = once = 0
    for i, lesson in enumerate(r_lessons):
        made = {(it.sentence.text, it.term.key) for it in course.items[i]}
        for sentence in prose_sentences(lesson.content, i):
            for term in course.terms:
                n = occurrences(term.surface, sentence.text)
                twice += n >= 2
                once += (sentence.text, term.key) in made
                assert n == 1 or (sentence.text, term.key) not in made, (term.surface, sentence.text)
    # "Vectors can be used in arithmetic expressions, in which case the operations are performed
    # element by element." has "element" twice: R-intro has well over a hundred such pairs.
    assert twice > 100 and once > 500
    questions = [q for seed in range(3) for q in make_questions(r_lessons, 30, "hard", random.Random(seed))]
    assert all(q.prompt.count(BLANK) == 1 for q in questions if q.kind == "cloze")


def test_items_leave_out_sentences_that_spell_the_term_again(r_lessons):
    course = material(r_lessons)
    for lesson_items in course.items:
        for item in lesson_items:
            assert occurrences(item.term.surface, item.sentence.text) == 1
    i = next(i for i, lesson in enumerate(r_lessons) if "levels of a factor the function levels()" in lesson.content)
    own = [t for t in course.terms if t.surface == "levels"]
    assert own and not [it for it in items(prose_sentences(r_lessons[i].content, i), own)
                        if "levels()" in it.sentence.text]


def test_definitions_in_the_biology_course(bio_lessons):
    course = material(bio_lessons)
    found = {d.term.surface: d.text for lesson in course.definitions for d in lesson}
    assert found == {"photosynthesis": "the process by which green plants convert light energy into chemical energy"}
    # One definition is too few for a definition question (it needs three others of its kind).
    questions = [q for seed in range(5) for q in make_questions(bio_lessons, 10, "easy", random.Random(seed))]
    assert questions and not any(q.kind == "definition" for q in questions)


def test_definition_forms_in_r_intro(r_lessons):
    course = material(r_lessons)
    by_key = {t.key: t for t in course.terms}
    sentences = [s for i, lesson in enumerate(r_lessons) for s in prose_sentences(lesson.content, i)]
    found = {d.term.surface: d.text for d in definitions(sentences, by_key)}
    assert found["dimension vector"] == "a vector of non-negative integers"  # "X is a ..."
    assert found["free variables"] == "Variables which are not formal parameters or local variables"  # "... are called X"
    # "... the numeric vector, which is a single entity consisting of an ordered collection of numbers."
    assert found["numeric vector"] == "a single entity consisting of an ordered collection of numbers"
    # "The first component is the distance ..." defines no "components": the subject must be the term.
    assert "components" not in found
    for term, text in found.items():
        assert term.lower() not in text.lower()
