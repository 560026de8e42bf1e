"""See the source in a real browser (fixtures in conftest.py): a lesson's "p. N" mark, its Source
line and a chat citation open that PDF page beside the text, drawn by the server, with the passage
highlighted; Escape closes it and gives focus back; the PDF downloads as uploaded; on a 390 px
phone the page is a bottom sheet and nothing scrolls sideways."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from browser_kit import build_course, failure_report, join_course, new_page, sign_in

from textbook import make_textbook

sync_api = pytest.importorskip("playwright.sync_api", reason="needs playwright (pip install -e '.[dev]')")
expect = sync_api.expect

TEACHER, STUDENT = "teacher@school.example", "student@school.example"


def test_page_marks_sources_and_citations_open_the_pdf_page(server: str, make_user, browser, tmp_path: Path):
    make_user(TEACHER, "teacher")
    make_user(STUDENT, "student")
    book = make_textbook(tmp_path / "book.pdf", first_printed=30)  # PDF page 5 prints "31"
    course = build_course(server, TEACHER, book.path, "Programming")
    course_id = course["id"]
    join_course(server, STUDENT, course["join_code"])

    desk = new_page(browser)
    phone = new_page(browser, width=390, height=844)
    current = desk
    try:
        sign_in(desk, server, STUDENT)
        desk.goto(f"{server}/#/courses/{course_id}")
        desk.get_by_role("link", name="1.1 Values and names", exact=True).click()
        expect(desk.locator("#lesson-title")).to_have_text("1.1 Values and names")
        lesson_url = desk.url
        mark = desk.locator("#lesson-content [role=doc-pagebreak] button")
        expect(mark).to_have_text(["p. 31"])
        mark.click()
        panel = desk.locator("#source-view")
        expect(panel).to_be_visible()
        expect(panel.get_by_role("heading")).to_have_text("book.pdf, p. 31")
        image = panel.get_by_role("img", name="Page 5 of book.pdf")
        shows_a_page(desk, image)
        # What begins on the page (the section after the mark) is highlighted over the image.
        expect(panel.locator(".source-mark").first).to_be_visible()
        assert desk.evaluate("document.getElementById('source-view').contains(document.activeElement)")
        # A split view: the lesson on the left, the page on the right, side by side.
        lesson, side = desk.locator("#lesson-panel").bounding_box(), panel.bounding_box()
        assert lesson["x"] + lesson["width"] <= side["x"] + 1 and side["x"] + side["width"] <= 1281
        assert side["height"] >= 850

        panel.get_by_role("button", name="Next page").click()
        shows_a_page(desk, panel.get_by_role("img", name="Page 6 of book.pdf"))
        expect(panel.locator(".source-mark")).to_have_count(0)
        panel.get_by_role("button", name="Previous page").click()
        shows_a_page(desk, panel.get_by_role("img", name="Page 5 of book.pdf"))

        download = panel.get_by_role("link", name="Download PDF")
        pdf = desk.request.get(server + download.get_attribute("href"))
        assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
        assert hashlib.sha256(pdf.body()).hexdigest() == hashlib.sha256(book.path.read_bytes()).hexdigest()

        desk.keyboard.press("Escape")
        expect(panel).to_be_hidden()
        assert desk.evaluate("document.activeElement.textContent") == "p. 31"  # focus is back on the mark

        # The lesson's Source line opens its first page, its opening words highlighted.
        desk.locator("#lesson-source").get_by_role("button").click()
        shows_a_page(desk, panel.get_by_role("img", name="Page 4 of book.pdf"))
        expect(panel.locator(".source-mark").first).to_be_visible()
        panel.get_by_role("button", name="Close the source page").click()
        expect(panel).to_be_hidden()

        # A chat answer's citation opens the page it cites, with the quoted passage highlighted.
        desk.get_by_role("link", name="Ask the course").click()
        desk.get_by_label("Your question").fill("What does selecting rows keep?")
        desk.get_by_role("button", name="Ask", exact=True).click()
        answer = desk.locator(".msg-bot[data-state=done]")
        expect(answer).to_have_count(1, timeout=60_000)
        cite = answer.locator("button.cite-ref").first
        expect(cite).to_be_visible()
        expect(answer.locator(".answer-text button.cite-marker").first).to_be_visible()
        answer.locator(".answer-text button.cite-marker").first.click()
        expect(panel).to_be_visible()
        shows_a_page(desk, panel.locator("img.source-image"))
        expect(panel.locator(".source-mark").first).to_be_visible()
        desk.keyboard.press("Escape")
        expect(panel).to_be_hidden()
        assert desk.js_errors == []

        # On a phone the page is a sheet along the bottom, and the screen does not scroll sideways.
        current = phone
        sign_in(phone, server, STUDENT)
        phone.goto(lesson_url)
        phone.locator("#lesson-content [role=doc-pagebreak] button").click()
        sheet = phone.locator("#source-view")
        shows_a_page(phone, sheet.get_by_role("img", name="Page 5 of book.pdf"))
        box = sheet.bounding_box()
        assert box["x"] == 0 and box["width"] == 390 and abs(box["y"] + box["height"] - 844) <= 1
        assert 0 < box["y"] < 844 / 2  # over the lower part of the screen, the text above it
        assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "the page scrolls sideways"
        phone.keyboard.press("Escape")
        expect(sheet).to_be_hidden()
        assert phone.js_errors == []
    except Exception:
        failure_report(current, tmp_path)
        raise


def shows_a_page(page, image) -> None:
    """The image is shown and drawn (the server's PNG decoded)."""
    expect(image).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
