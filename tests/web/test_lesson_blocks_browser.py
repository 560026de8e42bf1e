"""A lesson in a real browser (fixtures in conftest.py) reads like the book: a code listing in a
monospace block that keeps every space, lists as lists, a quotation set apart, the book's
subheadings, and the numbers printed on its pages ("p. 32") where the PDF's page index differs;
two PDFs keep their own modules."""

from __future__ import annotations

from pathlib import Path

from browser_kit import build_course, failure_report, sign_in

from factories import make_pdf
from textbook import QUOTE, make_textbook

ADMIN = "dean@school.test"


def test_a_lesson_shows_code_verbatim_and_printed_page_numbers(server: str, make_user, page, tmp_path: Path):
    from playwright.sync_api import expect

    make_user(ADMIN, "admin")
    book = make_textbook(tmp_path / "book.pdf", first_printed=30)
    course_id = build_course(server, ADMIN, [book.path, make_pdf(tmp_path / "bio.pdf")], "Programming")["id"]
    try:
        sign_in(page, server, ADMIN)
        page.goto(f"{server}/#/courses/{course_id}")
        # Each file's name heads its own modules, in upload order.
        expect(page.locator("#module-list .file-group")).to_have_text(["book.pdf", "bio.pdf"])
        page.get_by_role("link", name="2.2 Selecting rows").click()
        code = page.locator("#lesson-content pre.code code")
        expect(code).to_have_count(1)
        assert code.inner_text() == book.code[-1]  # the continuation line keeps its 8 spaces
        assert code.evaluate("c => getComputedStyle(c.parentElement).whiteSpace") == "pre"
        assert "monospace" in code.evaluate("c => getComputedStyle(c.parentElement).fontFamily")
        expect(page.locator("#lesson-source")).to_have_text("book.pdf, p. 33")
        expect(page.locator("#lesson-content blockquote.quote")).to_have_text(QUOTE)

        # Section 1.1 is too short for a lesson of its own: its lesson goes on into 1.2, under its heading.
        page.get_by_role("link", name="1.1 Values and names").click()
        expect(page.locator("#lesson-content ul li")).to_have_count(3)
        expect(page.locator("#lesson-content h5.block-heading")).to_have_text(["1.2 Functions"])
        # Page 5 of the PDF prints "31": its page break says so.
        mark = page.locator("#lesson-content [role=doc-pagebreak]")
        expect(mark).to_have_text(["p. 31"])
        expect(mark).to_have_attribute("title", "book.pdf, page 31 begins here")
        expect(page.locator("#lesson-source")).to_have_text("book.pdf, pp. 30-31")
    except Exception:
        failure_report(page, tmp_path)
        raise
