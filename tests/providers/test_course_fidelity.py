"""A course that reads like the book: lessons as blocks with code kept verbatim, front matter in
one module, no title repeated, files kept apart, and questions drawn from prose only."""

from __future__ import annotations

import random

import pytest

from factories import BIOLOGY, make_pdf
from profai.ingest.pdf import read_pdf
from profai.providers.generator import ExtractiveGenerator
from profai.providers.generator.quiz import QuizLesson, make_questions
from profai.providers.generator.sections import prose_only
from profai.services.audio import lesson_script
from support import R_MANUALS
from textbook import QUOTE


@pytest.fixture(scope="module")
def course(book_doc):
    return ExtractiveGenerator().build_course("Programming", [book_doc])


def lessons(course):
    return [lesson for module in course.modules for lesson in module.lessons]


def test_lessons_are_blocks_whose_text_is_the_content(course, book):
    for lesson in lessons(course):
        assert "\n\n".join(b.text for b in lesson.blocks) == lesson.content
    code = [b.text for lesson in lessons(course) for b in lesson.blocks if b.kind == "code"]
    assert code == book.code


def test_code_is_never_a_summary_sentence_or_a_question(course, book):
    code_lines = {line.strip() for listing in book.code for line in listing.split("\n") if len(line.strip()) > 3}
    for lesson in lessons(course):
        assert lesson.summary and not any(line in lesson.summary for line in code_lines)
    labels = [None, None, None, "30", "31", "32", "33"]
    quiz_lessons = [QuizLesson(str(i), le.title, prose_only(le.content, le.blocks), le.key_terms, le.source_file,
                               le.page_start, le.page_end, le.page_marks, page_labels=labels)
                    for i, le in enumerate(lessons(course))]
    questions = [q for seed in range(5) for q in make_questions(quiz_lessons, 10, "medium", random.Random(seed))]
    assert questions
    for q in questions:
        assert not any(line in q.prompt or line in q.explanation for line in code_lines)
        # The explanation cites the number printed on the page, not the PDF's index, where it is known.
        printed = labels[q.page - 1]
        assert q.explanation.endswith(f", p. {printed})" if printed else f", page {q.page})")
    assert any(labels[q.page - 1] for q in questions)


def test_front_matter_is_one_module_of_whole_lessons(tmp_path):
    long_preface = " ".join(BIOLOGY[0][1] + BIOLOGY[1][1]) + " "
    pdf = make_pdf(tmp_path / "front.pdf", [
        ("Preface", [long_preface * 12]),  # ~2,500 words: once cut into "Preface (part n)" lessons
        ("Acknowledgements", BIOLOGY[2][1]),
        ("1 Photosynthesis", BIOLOGY[0][1] * 2),
        ("2 Respiration", BIOLOGY[1][1] * 2),
    ])
    course = ExtractiveGenerator().build_course("Biology", [read_pdf(pdf, "front.pdf")])
    first = course.modules[0]
    assert first.title == "Front matter"
    assert [lesson.title for lesson in first.lessons] == ["Preface", "Acknowledgements"]
    assert not any("(part" in lesson.title for lesson in first.lessons)
    assert [m.title for m in course.modules[1:]] == ["1 Photosynthesis", "2 Respiration"]


def test_a_modules_opening_text_is_its_overview():
    course = ExtractiveGenerator().build_course("R", [read_pdf(R_MANUALS / "R-intro.pdf", "R-intro.pdf")])
    for module in course.modules:
        if len(module.lessons) > 1:
            assert module.title not in [lesson.title for lesson in module.lessons]
    reading = next(m for m in course.modules if m.title == "7 Reading data from files")
    assert reading.lessons[0].title == "Overview"


def test_several_pdfs_keep_their_own_modules_in_upload_order(book_doc, tmp_path):
    bio = read_pdf(make_pdf(tmp_path / "bio.pdf"), "bio.pdf")
    course = ExtractiveGenerator().build_course("Both", [book_doc, bio])
    files = [module.lessons[0].source_file for module in course.modules]
    assert files == sorted(files, key=["book.pdf", "bio.pdf"].index)  # grouped, in the order given
    assert {lesson.source_file for m in course.modules for lesson in m.lessons} == {"book.pdf", "bio.pdf"}
    assert all(len({lesson.source_file for lesson in m.lessons}) == 1 for m in course.modules)


def test_code_is_announced_when_a_lesson_is_read_aloud(course):
    lesson = next(le for le in lessons(course) if any(b.kind == "code" for b in le.blocks))
    blocks = [{"kind": b.kind, "text": b.text, "level": b.level} for b in lesson.blocks]
    script = lesson_script(lesson.title, lesson.content, blocks)
    assert "A code example of" in script and "follows in the lesson text" in script
    assert "total += value" not in script and "def mean" not in script
    assert lesson_script("Old", "Imported text.", []) == "Old.\n\nImported text."


def test_a_quotation_is_announced_and_never_summarised_or_quizzed(course):
    lesson = next(le for le in lessons(course) if any(b.kind == "quote" for b in le.blocks))
    blocks = [{"kind": b.kind, "text": b.text, "level": b.level} for b in lesson.blocks]
    assert f"Quote: {QUOTE} End of quote." in lesson_script(lesson.title, lesson.content, blocks)
    # Someone else's words are neither the lesson's summary nor what its questions are drawn from.
    assert "incidentally" in lesson.content and "incidentally" not in lesson.summary
    assert "incidentally" not in prose_only(lesson.content, lesson.blocks)


LISTING = "class Sample:\n    def __init__(self, site):\n        self.site = site\n    def deep(self):\n        return True"


def _chapter_with_a_listing_across_pages(path):
    """A chapter whose opening text comes before its first section (outline: chapter, then two
    sections), and a listing that a page break cuts after its second line."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A4)
    top = A4[1] - 72
    for level, title, key in ((0, "1 Functions", "ch"), (1, "1.1 Classes", "s1")):
        c.bookmarkPage(key)
        c.addOutlineEntry(title, key, level=level)
    c.setFont("Helvetica-Bold", 18)
    c.drawString(72, top, "1 Functions")
    c.setFont("Times-Roman", 11)
    y = top - 30
    for line in BIOLOGY[0][1][0].split(". "):
        c.drawString(72, y, line.strip() + ".")
        y -= 14
    c.setFont("Helvetica-Bold", 13)
    c.drawString(72, y - 20, "1.1 Classes")
    c.setFont("Times-Roman", 11)
    y = 150
    for line in BIOLOGY[1][1][0].split(". ")[:3]:
        c.drawString(72, y, line.strip() + ".")
        y -= 14
    lines = LISTING.split("\n")
    c.setFont("Courier", 10)
    for n, line in enumerate(lines):
        if n == 2:  # the page break
            c.showPage()
            c.bookmarkPage("s2")
            c.setFont("Courier", 10)
            y = top
        c.drawString(92, y, line)
        y -= 12
    c.setFont("Times-Roman", 11)
    for line in BIOLOGY[2][1][0].split(". ")[:3]:
        y -= 14
        c.drawString(72, y, line.strip() + ".")
    c.addOutlineEntry("1.2 More", "s2", level=1)
    c.save()
    return path


def test_a_chapters_opening_text_and_a_listing_cut_by_a_page_break_are_kept(tmp_path):
    doc = read_pdf(_chapter_with_a_listing_across_pages(tmp_path / "cut.pdf"), "cut.pdf")
    course = ExtractiveGenerator().build_course("Cut", [doc])
    text = "\n".join(lesson.content for lesson in lessons(course))
    assert BIOLOGY[0][1][0].split(". ")[1] in text  # the chapter's opening text, above its first section
    code = [b.text for lesson in lessons(course) for b in lesson.blocks if b.kind == "code"]
    assert code == [LISTING]  # the lines on the second page keep their indentation
