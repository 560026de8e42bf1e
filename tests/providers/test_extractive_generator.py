"""The extractive course generator: structure from outline, headings or topics; verbatim text only."""

import re
from pathlib import Path

import pytest

from factories import BIOLOGY, make_pdf
from profai.domain import CourseDraft
from profai.ingest.pdf import read_pdf
from profai.providers.generator import CourseGenerator, ExtractiveGenerator
from profai.providers.generator.sections import Para, Section, page_at, prose_only, sentence_pieces
from profai.text import split_sentences
from support import squash, starts_on

R_MANUALS = Path("/usr/share/R/doc/manual")
TITLES = [title for title, _ in BIOLOGY]


def _build(tmp_path, name="bio.pdf", **kwargs) -> CourseDraft:
    doc = read_pdf(make_pdf(tmp_path / name, **kwargs), name)
    return ExtractiveGenerator().build_course("Biology", [doc])


def _lessons(course: CourseDraft):
    return [lesson for module in course.modules for lesson in module.lessons]


def _assert_verbatim(course: CourseDraft) -> None:
    for lesson in _lessons(course):
        assert lesson.content.strip()
        for sentence in split_sentences(lesson.summary):
            assert sentence in lesson.content
        assert 1 <= len(split_sentences(lesson.summary)) <= 3
        assert 1 <= len(lesson.key_terms) <= 8
        for term in lesson.key_terms:
            assert term.lower() in lesson.content.lower()
            assert term.split()[0].lower() not in {"the", "of", "and", "a"}


def test_satisfies_the_protocol():
    generator: CourseGenerator = ExtractiveGenerator()
    assert generator.name == "extractive"


def test_modules_come_from_the_outline(tmp_path):
    course = _build(tmp_path)
    assert course.title == "Biology"
    assert [m.title for m in course.modules] == TITLES
    for number, module in enumerate(course.modules, start=1):
        assert len(module.lessons) == 1
        lesson = module.lessons[0]
        assert (lesson.source_file, lesson.page_start, lesson.page_end) == ("bio.pdf", number, number)
        _, paragraphs = BIOLOGY[number - 1]
        assert squash(paragraphs[0]) in squash(lesson.content)
    _assert_verbatim(course)


def test_modules_come_from_headings_without_an_outline(tmp_path):
    course = _build(tmp_path, outline=False)
    assert [m.title for m in course.modules] == TITLES
    photosynthesis = course.modules[0].lessons[0]
    assert not photosynthesis.content.startswith("Photosynthesis\n")  # the heading became the title
    _assert_verbatim(course)


def test_topic_segmentation_without_outline_or_headings(tmp_path):
    doc = read_pdf(make_pdf(tmp_path / "plain.pdf", outline=False, headings=False), "plain.pdf")
    course = ExtractiveGenerator().build_course("Biology", [doc])
    lessons = _lessons(course)
    assert len(course.modules) >= 1 and len(lessons) >= 2
    # Lessons cover the whole text, in order, without loss or duplication.
    assert squash(" ".join(lesson.content for lesson in lessons)) == squash(" ".join(p.text for p in doc.pages))
    # The Genetics chapter shares few words with the others, so a cut lands at its start.
    assert any(lesson.content.startswith("Genetics is the study of heredity") for lesson in lessons)
    for module in course.modules:
        assert module.title and module.title[0].isupper()
    for lesson in lessons:
        first_term = lesson.title.split(" and ")[0]
        assert first_term.lower() == lesson.key_terms[0].lower()
    _assert_verbatim(course)


def test_summary_is_central_sentences_and_key_terms_are_relevant(tmp_path):
    course = _build(tmp_path)
    photosynthesis, respiration, genetics = (m.lessons[0] for m in course.modules)
    assert len(split_sentences(photosynthesis.summary)) in (2, 3)
    assert "chlorophyll" in [t.lower() for t in photosynthesis.key_terms]
    assert "carbon dioxide" in [t.lower() for t in respiration.key_terms]
    assert "alleles" in [t.lower() for t in genetics.key_terms]
    # Original casing of the first occurrence is kept.
    assert "ATP" in respiration.key_terms


def test_key_terms_name_things_not_actions():
    """A lesson that keeps saying "consisting" and "occurring" is still about vectors and operators."""
    from profai.providers.generator.keyterms import KeyTermIndex, count_terms

    lesson = ("A vector consisting of numbers is occurring here. The operator acts on a vector consisting "
              "of values. Each operator is occurring once, consisting of two characters. A vector has a length.")
    others = ["Plants need light and water.", "Cells divide by mitosis.", "Genes carry traits."]
    counts = [count_terms(text) for text in (lesson, *others)]
    terms = [t.lower() for t in KeyTermIndex(counts).top_terms(counts[0], 3)]
    assert terms[:2] == ["vector", "operator"] and "consisting" not in terms and "occurring" not in terms


def test_is_deterministic(tmp_path):
    first, second = _build(tmp_path, name="a.pdf", outline=False, headings=False), _build(
        tmp_path, name="a.pdf", outline=False, headings=False
    )
    assert first == second
    assert _build(tmp_path, name="b.pdf") == _build(tmp_path, name="b.pdf")


def test_several_documents_make_one_course_in_order(tmp_path):
    bio = read_pdf(make_pdf(tmp_path / "bio.pdf"), "bio.pdf")
    other_chapters = [("Ecology", BIOLOGY[2][1]), ("Evolution", BIOLOGY[0][1])]
    other = read_pdf(make_pdf(tmp_path / "more.pdf", chapters=other_chapters), "more.pdf")
    calls = []
    course = ExtractiveGenerator().build_course("Both", [bio, other], progress=lambda f, m: calls.append((f, m)))
    assert [m.title for m in course.modules] == [*TITLES, "Ecology", "Evolution"]
    assert [m.lessons[0].source_file for m in course.modules] == ["bio.pdf"] * 3 + ["more.pdf"] * 2
    fractions = [f for f, _ in calls]
    assert len(calls) >= 3 and fractions == sorted(fractions) and fractions[-1] == 1.0
    assert all(isinstance(m, str) and m for _, m in calls)


def test_long_chapters_are_split_into_parts_with_valid_pages(tmp_path):
    long_chapters = [(title, paragraphs * 20) for title, paragraphs in BIOLOGY]
    doc = read_pdf(make_pdf(tmp_path / "long.pdf", chapters=long_chapters), "long.pdf")
    course = ExtractiveGenerator().build_course("Long", [doc])
    assert [m.title for m in course.modules] == TITLES
    for module in course.modules:
        titles = [lesson.title for lesson in module.lessons]
        assert len(titles) >= 2 and titles[1] == f"{module.title} (part 2)"
        for lesson in module.lessons:
            assert len(lesson.content.split()) <= 1500
    pages = [(lesson.page_start, lesson.page_end) for lesson in _lessons(course)]
    assert all(1 <= a <= b <= len(doc.pages) for a, b in pages)
    assert pages == sorted(pages)


def test_tiny_sections_are_merged(tmp_path):
    chapters = [("Overview", ["Plants make food from light."]), *BIOLOGY]
    course = _build(tmp_path, chapters=chapters)
    assert [m.title for m in course.modules] == TITLES
    assert "Plants make food from light." in course.modules[0].lessons[0].content


def _read_manual(name: str):
    path = R_MANUALS / name
    if not path.exists():
        pytest.skip(f"{name} is not installed")
    return read_pdf(path, name)


def test_real_manual_gives_its_chapters():
    doc = _read_manual("R-intro.pdf")
    course = ExtractiveGenerator().build_course("R", [doc])
    titles = [m.title for m in course.modules]
    assert "1 Introduction and preliminaries" in titles
    assert "5 Arrays and matrices" in titles
    assert not any(re.search(r"index$", t, re.IGNORECASE) for t in titles)
    assert 10 <= len(titles) <= 30
    arrays = course.modules[titles.index("5 Arrays and matrices")]
    assert "Index matrices" in [lesson.title for lesson in arrays.lessons]
    lessons = _lessons(course)
    assert all(len(lesson.content.split()) <= 1500 for lesson in lessons)
    assert all(1 <= lesson.page_start <= lesson.page_end <= len(doc.pages) for lesson in lessons)
    _assert_verbatim(course)


def test_big_manual_gives_a_course():
    # Its build time is in bench/ingest_pdf.py ("generate").
    course = ExtractiveGenerator().build_course("R extensions", [_read_manual("R-exts.pdf")])
    assert len(course.modules) >= 5 and len(_lessons(course)) >= 50


def test_page_marks_name_the_page_of_every_sentence():
    doc = _read_manual("R-intro.pdf")
    pages = {p.number: squash(p.text) for p in doc.pages}
    spanning = 0
    for lesson in _lessons(ExtractiveGenerator().build_course("R", [doc])):
        marks = lesson.page_marks
        assert marks[0] == (0, lesson.page_start) and marks[-1][1] == lesson.page_end
        assert [at for at, _ in marks] == sorted({at for at, _ in marks})
        assert [page for _, page in marks] == sorted({page for _, page in marks})
        spanning += len(marks) > 1
        cursor = 0
        prose = prose_only(lesson.content, lesson.blocks)  # code keeps its spaces: sentences are prose
        for sentence in split_sentences(prose):
            cursor = prose.index(sentence, cursor)
            page = page_at(marks, cursor, lesson.page_start)
            # It starts on that page and may run over onto the next.
            assert starts_on(sentence, pages, page), (sentence, page)
    assert spanning >= 20


def test_a_paragraph_split_into_pieces_keeps_the_pages_of_each():
    # Page 5 begins inside the second sentence ("... runs" | "the reaction.").
    text = "Leaves hold chlorophyll pigments. The pigment absorbs red light. The light runs the reaction. Roots take up water."
    para = Para(text, 4, 5, len(text.split()), breaks=((text.index("the reaction"), 5),))
    pieces = sentence_pieces([para], 5)
    assert [(p.text, p.page_start, p.page_end) for p in pieces] == [
        ("Leaves hold chlorophyll pigments.", 4, 4),
        ("The pigment absorbs red light.", 4, 4),
        ("The light runs the reaction.", 4, 5),
        ("Roots take up water.", 5, 5),
    ]
    section = Section(None, pieces)
    assert section.page_marks == [(0, 4), (section.text.index("the reaction"), 5)]
