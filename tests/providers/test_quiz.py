"""Extractive multiple-choice questions from real lessons: R-intro.pdf and the biology factory PDF.

Every question is checked by its kind: a cloze prompt has one blank that the answer fills back into
the source sentence; a true statement is the source sentence against copies with its key term
swapped; a definition is quoted from the source sentence against definitions the course gives of
other key terms. Every wrong option stands for a course key term of the answer's kind."""

import random
import re
from dataclasses import replace
from statistics import mean

import pytest

from factories import make_pdf
from profai.domain import PdfDocument
from profai.ingest.pdf import read_pdf
from profai.providers.generator import ExtractiveGenerator
from profai.providers.generator.quiz import (
    BLANK,
    CLOZE_PROMPT,
    DIFFICULTIES,
    KINDS,
    TRUE_PROMPT,
    QuestionDraft,
    QuizLesson,
    course_material,
    make_questions,
)
from profai.providers.generator.quiz_terms import CourseText, term_kind
from profai.providers.generator.sections import prose_only
from support import R_MANUALS, squash

R_INTRO = R_MANUALS / "R-intro.pdf"
# Code as the issue lists it: assignment, empty parentheses, braces, `=`, `$`, a leading `>` prompt.
CODE = re.compile(r"<-|\(\)|[{}=$]|^\s*>", re.MULTILINE)


def lessons_of(doc: PdfDocument, with_marks: bool = True) -> list[QuizLesson]:
    course = ExtractiveGenerator().build_course("Course", [doc])
    out = []
    for i, lesson in enumerate(lesson for module in course.modules for lesson in module.lessons):
        out.append(QuizLesson(f"lesson-{i}", lesson.title, prose_only(lesson.content, lesson.blocks), lesson.key_terms,
                              lesson.source_file,
                              lesson.page_start, lesson.page_end, lesson.page_marks if with_marks else ()))
    return out


@pytest.fixture(scope="module")
def r_doc() -> PdfDocument:
    return read_pdf(R_INTRO, "R-intro.pdf")


@pytest.fixture(scope="module")
def r_lessons(r_doc) -> list[QuizLesson]:
    return lessons_of(r_doc)


@pytest.fixture(scope="module")
def bio_doc(tmp_path_factory) -> PdfDocument:
    return read_pdf(make_pdf(tmp_path_factory.mktemp("bio") / "bio.pdf"), "bio.pdf")


@pytest.fixture(scope="module")
def bio_lessons(bio_doc) -> list[QuizLesson]:
    return lessons_of(bio_doc)


def source_sentence(question: QuestionDraft) -> str:
    return re.fullmatch(r'The course says: "(.*)" \((.+), page (\d+)\)', question.explanation).group(1)


def word_re(term: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w.-]){re.escape(term)}(?![\w]|[.-]\w)", re.IGNORECASE)


def has_word(term: str, text: str) -> bool:
    return word_re(term).search(text) is not None


def same_words(a: str, b: str) -> bool:
    """Equal but for case and the article before a swapped term ("a matrix" / "an array")."""
    return re.sub(r"\ban\b", "a", a.lower()) == re.sub(r"\ban\b", "a", b.lower())


def assert_well_formed(questions: list[QuestionDraft], lessons: list[QuizLesson], doc: PdfDocument) -> None:
    pages = {p.number: p.text for p in doc.pages}
    by_id = {lesson.lesson_id: lesson for lesson in lessons}
    course = squash(" ".join(lesson.content for lesson in lessons)).lower()
    for q in questions:
        sentence = source_sentence(q)
        right, term = q.options[q.correct_index], q.option_terms[q.correct_index]
        lesson = by_id[q.lesson_id]
        assert q.kind in KINDS
        assert len(q.options) == len(q.option_terms) == 4 and len({o.lower() for o in q.options}) == 4
        assert len({t.lower() for t in q.option_terms}) == 4
        assert not CODE.search(sentence) and not CODE.search(q.prompt), q
        wrong = [(o, t) for i, (o, t) in enumerate(zip(q.options, q.option_terms)) if i != q.correct_index]
        if q.kind == "cloze":
            # One blank, and the answer fills it back into the source sentence.
            assert q.prompt.startswith(CLOZE_PROMPT) and q.prompt.count(BLANK) == 1
            assert q.prompt.removeprefix(CLOZE_PROMPT).replace(BLANK, right).lower() == sentence.lower()
            assert q.options == list(q.option_terms)
            assert len(word_re(right).findall(sentence)) == 1
        elif q.kind == "true_statement":
            assert q.prompt == TRUE_PROMPT and right == sentence
            assert len(word_re(term).findall(sentence)) == 1
            at = word_re(term).search(sentence)
            for option, swapped in wrong:
                # The sentence with its term swapped for another absent from it: a statement the
                # course does not make.
                assert not has_word(swapped, sentence)
                assert same_words(option, sentence[: at.start()] + swapped + sentence[at.end() :])
                assert squash(option).lower() not in course
        else:
            # The right definition is quoted from the source sentence, the wrong ones from
            # definitions of other terms elsewhere in the course, none naming the term asked about.
            assert q.prompt == f'Which of these describes "{term}"?' and has_word(term, sentence)
            assert right.lower() in sentence.lower()
            for option, _ in wrong:
                assert option.lower() in course and not has_word(term, option)
        if q.kind != "definition":
            for _, other in wrong:
                assert other.lower() not in term.lower() and term.lower() not in other.lower()
        # Provenance: the sentence is in the lesson and on the page named.
        assert squash(sentence) in squash(lesson.content)
        assert q.source_file == lesson.source_file and lesson.page_start <= q.page <= lesson.page_end
        # The page the sentence starts on (it may run over onto the next one).
        assert " ".join(sentence.split()[:4]) in squash(pages[q.page])
        assert squash(sentence) in squash(pages[q.page] + " " + pages.get(q.page + 1, ""))
        assert f"page {q.page})" in q.explanation


def assert_course_terms_of_a_kind(questions: list[QuestionDraft], lessons: list[QuizLesson]) -> None:
    """Every wrong option stands for a key term of some lesson, of the same kind as the answer's."""
    key_terms = {squash(t).lower() for lesson in lessons for t in lesson.key_terms}
    text = CourseText("\n\n".join(lesson.content for lesson in lessons))
    for q in questions:
        answer = q.option_terms[q.correct_index]
        for i, term in enumerate(q.option_terms):
            assert term.lower() in key_terms, (q.prompt, term)
            if i != q.correct_index:
                assert term_kind(term, text) == term_kind(answer, text), (q.prompt, answer, term)


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_questions_from_r_intro_are_well_formed(r_lessons, r_doc, difficulty):
    questions = make_questions(r_lessons, 12, difficulty, random.Random(7))
    assert len(questions) == 12
    assert_well_formed(questions, r_lessons, r_doc)
    assert_course_terms_of_a_kind(questions, r_lessons)
    assert len({source_sentence(q) for q in questions}) == 12
    assert len({q.option_terms[q.correct_index].lower() for q in questions}) == 12
    # Round-robin over lessons: twelve questions come from twelve lessons.
    assert len({q.lesson_id for q in questions}) == 12


def test_many_quizzes_keep_to_one_blank_prose_and_course_terms(r_lessons, r_doc):
    questions = [q for seed in range(3) for difficulty in DIFFICULTIES
                 for q in make_questions(r_lessons, 30, difficulty, random.Random(seed))]
    assert len(questions) == 270
    assert_well_formed(questions, r_lessons, r_doc)
    assert_course_terms_of_a_kind(questions, r_lessons)
    kinds = {kind: sum(q.kind == kind for q in questions) for kind in KINDS}
    # R-intro defines a few key terms ("A dimension vector is a vector of non-negative integers."):
    # every kind is asked, cloze most.
    assert kinds["cloze"] > kinds["true_statement"] > kinds["definition"] > 0, kinds


def test_every_kind_has_one_right_option_and_an_explanation(r_lessons):
    course = course_material(tuple((lesson.content, tuple(lesson.key_terms)) for lesson in r_lessons))
    defined = {d.term.surface: d for lesson in course.definitions for d in lesson}
    assert {"dimension vector", "maximum likelihood", "free variables"} <= set(defined)
    assert defined["dimension vector"].text == "a vector of non-negative integers"
    questions = make_questions(r_lessons, 30, "medium", random.Random(1))
    for kind in KINDS:
        of_kind = [q for q in questions if q.kind == kind]
        assert of_kind, kind
        for q in of_kind:
            # Exactly one option gives back the source sentence (filling the blank) or is part of it.
            sentence = source_sentence(q).lower()
            if kind == "cloze":
                assert sum(q.prompt.removeprefix(CLOZE_PROMPT).replace(BLANK, o).lower() == sentence
                           for o in q.options) == 1
            else:
                assert sum(o.lower() in sentence for o in q.options) == 1
            assert q.explanation.lower().startswith(f'the course says: "{sentence}"')


def test_biology_quiz_covers_every_chapter(bio_lessons, bio_doc):
    questions = make_questions(bio_lessons, 6, "medium", random.Random(1))
    assert len(questions) == 6
    assert_well_formed(questions, bio_lessons, bio_doc)
    assert_course_terms_of_a_kind(questions, bio_lessons)
    assert {q.lesson_id for q in questions} == {lesson.lesson_id for lesson in bio_lessons}
    for q in questions:
        assert q.page == {"lesson-0": 1, "lesson-1": 2, "lesson-2": 3}[q.lesson_id]


def test_the_seed_decides_the_quiz(r_lessons):
    first = make_questions(r_lessons, 10, "medium", random.Random(42))
    again = make_questions(r_lessons, 10, "medium", random.Random(42))
    other = make_questions(r_lessons, 10, "medium", random.Random(43))
    assert first == again
    assert [q.options for q in first] != [q.options for q in other]


def lesson_distance(option: str, question: QuestionDraft, lessons: list[QuizLesson]) -> int:
    """How many lessons away from the question's lesson the option is first found."""
    home = next(i for i, lesson in enumerate(lessons) if lesson.lesson_id == question.lesson_id)
    return min(abs(i - home) for i, lesson in enumerate(lessons) if has_word(option, lesson.content))


def test_difficulty_moves_sentences_and_wrong_options(r_lessons, r_doc):
    # Without an embedder wrong options are ranked by where in the course they occur.
    easy = make_questions(r_lessons, 30, "easy", random.Random(3))
    hard = make_questions(r_lessons, 30, "hard", random.Random(3))
    assert_well_formed(easy + hard, r_lessons, r_doc)

    def distance(questions):
        return mean(lesson_distance(t, q, r_lessons) for q in questions
                    for i, t in enumerate(q.option_terms) if i != q.correct_index)

    def length(questions):
        return mean(len(source_sentence(q).split()) for q in questions)

    # Easy wrong options come from far-off lessons, hard ones from the same part of the course.
    assert distance(easy) > 2 * distance(hard)
    assert length(easy) < length(hard)


def test_pages_are_estimated_within_the_lesson_without_page_marks(r_doc):
    lessons = lessons_of(r_doc, with_marks=False)
    questions = make_questions(lessons, 15, "medium", random.Random(5))
    texts = {p.number: squash(p.text) for p in r_doc.pages}
    by_id = {lesson.lesson_id: lesson for lesson in lessons}
    on_page = 0
    for q in questions:
        lesson = by_id[q.lesson_id]
        assert lesson.page_start <= q.page <= lesson.page_end
        on_page += squash(source_sentence(q)) in texts[q.page]
    assert on_page >= 0.7 * len(questions)  # an estimate, but mostly right


def test_bad_arguments(bio_lessons):
    with pytest.raises(ValueError):
        make_questions(bio_lessons, 3, "impossible", random.Random(0))
    assert make_questions(bio_lessons, 0, "easy", random.Random(0)) == []
    assert make_questions([], 5, "easy", random.Random(0)) == []
    # Asking for more than the material holds gives what there is, each from its own sentence
    # (true-statement prompts all read "Which statement is true?").
    many = make_questions(bio_lessons, 100, "easy", random.Random(0))
    assert 6 <= len(many) < 100 and len({source_sentence(q) for q in many}) == len(many)


def test_a_course_is_read_once_for_all_its_quizzes(r_lessons):
    course_material.cache_clear()
    first = make_questions(r_lessons, 5, "easy", random.Random(1))
    # The same course read again from the database: new objects, same text.
    again = make_questions([replace(lesson) for lesson in r_lessons], 5, "easy", random.Random(1))
    assert first == again
    assert (course_material.cache_info().misses, course_material.cache_info().hits) == (1, 1)
    make_questions(r_lessons[:3], 5, "easy", random.Random(1))  # other lessons, another course
    assert course_material.cache_info().misses == 2


def test_concurrent_first_quizzes_read_the_course_once():
    """A class's first quizzes arrive together: one thread computes the course's material, the
    others wait for it instead of each reading the course again."""
    import threading
    import time

    from profai.providers.generator.once_cache import once_cache

    calls = []

    @once_cache(maxsize=4)
    def slow(key: str) -> str:
        calls.append(key)
        time.sleep(0.2)
        return key.upper()

    start = threading.Barrier(6)
    results: list[str] = []

    def ask(key: str) -> None:
        start.wait()
        results.append(slow(key))

    threads = [threading.Thread(target=ask, args=(k,)) for k in ["a"] * 5 + ["b"]]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(calls) == ["a", "b"] and sorted(results) == ["A"] * 5 + ["B"]
    assert slow.cache_info().hits == 4
