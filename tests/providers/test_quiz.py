"""Extractive multiple-choice questions from real lessons: R-intro.pdf and the biology factory PDF."""

import random
import re
from dataclasses import replace
from statistics import mean

import pytest

from factories import make_pdf
from profai.domain import PdfDocument
from profai.ingest.pdf import read_pdf
from profai.providers.generator import ExtractiveGenerator
from profai.providers.generator.quiz import BLANK, DIFFICULTIES, QuestionDraft, QuizLesson, _term_pool, make_questions
from support import R_MANUALS, squash

R_INTRO = R_MANUALS / "R-intro.pdf"


def lessons_of(doc: PdfDocument, with_marks: bool = True) -> list[QuizLesson]:
    course = ExtractiveGenerator().build_course("Course", [doc])
    out = []
    for i, lesson in enumerate(lesson for module in course.modules for lesson in module.lessons):
        out.append(QuizLesson(f"lesson-{i}", lesson.title, lesson.content, lesson.key_terms, lesson.source_file,
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


def has_word(term: str, text: str) -> bool:
    return re.search(rf"(?<![\w.-]){re.escape(term)}(?![\w]|[.-]\w)", text, re.IGNORECASE) is not None


def assert_well_formed(questions: list[QuestionDraft], lessons: list[QuizLesson], doc: PdfDocument) -> None:
    pages = {p.number: p.text for p in doc.pages}
    by_id = {lesson.lesson_id: lesson for lesson in lessons}
    for q in questions:
        sentence = source_sentence(q)
        answer = q.options[q.correct_index]
        lesson = by_id[q.lesson_id]
        assert len(q.options) == 4 and len({o.lower() for o in q.options}) == 4
        assert 0 <= q.correct_index < 4
        # The blank is the answer: filling it back gives the source sentence.
        assert q.prompt.startswith("Fill in the blank: ") and BLANK in q.prompt
        cloze = q.prompt.removeprefix("Fill in the blank: ")
        assert cloze.replace(BLANK, answer).lower() == sentence.lower()
        assert has_word(answer, sentence)
        # No wrong option is in the sentence or overlaps the answer.
        for i, option in enumerate(q.options):
            if i != q.correct_index:
                assert not has_word(option, sentence)
                assert option.lower() not in answer.lower() and answer.lower() not in option.lower()
        # Provenance: the sentence is in the lesson and on the page named.
        assert squash(sentence) in squash(lesson.content)
        assert q.source_file == lesson.source_file and lesson.page_start <= q.page <= lesson.page_end
        # The page the sentence starts on (it may run over onto the next one).
        assert " ".join(sentence.split()[:4]) in squash(pages[q.page])
        assert squash(sentence) in squash(pages[q.page] + " " + pages.get(q.page + 1, ""))
        assert f"page {q.page})" in q.explanation


@pytest.mark.parametrize("difficulty", DIFFICULTIES)
def test_questions_from_r_intro_are_well_formed(r_lessons, r_doc, difficulty):
    questions = make_questions(r_lessons, 12, difficulty, random.Random(7))
    assert len(questions) == 12
    assert_well_formed(questions, r_lessons, r_doc)
    assert len({source_sentence(q) for q in questions}) == 12
    assert len({q.options[q.correct_index].lower() for q in questions}) == 12
    # Round-robin over lessons: twelve questions come from twelve lessons.
    assert len({q.lesson_id for q in questions}) == 12


def test_biology_quiz_covers_every_chapter(bio_lessons, bio_doc):
    questions = make_questions(bio_lessons, 6, "medium", random.Random(1))
    assert len(questions) == 6
    assert_well_formed(questions, bio_lessons, bio_doc)
    assert {q.lesson_id for q in questions} == {lesson.lesson_id for lesson in bio_lessons}
    for q in questions:
        assert q.page == {"lesson-0": 1, "lesson-1": 2, "lesson-2": 3}[q.lesson_id]


def test_the_seed_decides_the_quiz(r_lessons):
    first = make_questions(r_lessons, 10, "medium", random.Random(42))
    again = make_questions(r_lessons, 10, "medium", random.Random(42))
    other = make_questions(r_lessons, 10, "medium", random.Random(43))
    assert first == again
    assert [q.prompt for q in first] != [q.prompt for q in other]


def lesson_distance(option: str, question: QuestionDraft, lessons: list[QuizLesson]) -> int:
    """How many lessons away from the question's lesson the option is first found."""
    home = next(i for i, lesson in enumerate(lessons) if lesson.lesson_id == question.lesson_id)
    return min(abs(i - home) for i, lesson in enumerate(lessons) if has_word(option, lesson.content))


def test_difficulty_moves_sentences_and_wrong_options(r_lessons, r_doc):
    easy = make_questions(r_lessons, 30, "easy", random.Random(3))
    hard = make_questions(r_lessons, 30, "hard", random.Random(3))
    assert_well_formed(easy + hard, r_lessons, r_doc)

    def distance(questions):
        return mean(lesson_distance(o, q, r_lessons) for q in questions
                    for i, o in enumerate(q.options) if i != q.correct_index)

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
    # Asking for more than the material holds gives what there is, all distinct.
    many = make_questions(bio_lessons, 100, "easy", random.Random(0))
    assert 6 <= len(many) < 100 and len({q.prompt for q in many}) == len(many)


def test_a_course_term_pool_is_built_once_for_all_its_quizzes(r_lessons):
    _term_pool.cache_clear()
    first = make_questions(r_lessons, 5, "easy", random.Random(1))
    # The same course read again from the database: new objects, same text.
    again = make_questions([replace(lesson) for lesson in r_lessons], 5, "easy", random.Random(1))
    assert first == again
    assert (_term_pool.cache_info().misses, _term_pool.cache_info().hits) == (1, 1)
    make_questions(r_lessons[:3], 5, "easy", random.Random(1))  # other lessons, another pool
    assert _term_pool.cache_info().misses == 2
