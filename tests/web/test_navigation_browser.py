"""Finding one's way in a course, in a real browser (fixtures in conftest.py), on a course of two real
PDFs (a textbook and a long bookmarked one): the course's tabs come a few Tab presses after the
skip links and before the outline; the current lesson is marked and scrolled into view; a module
folds away; search finds a lesson by a word of its text and opens it; the last lesson read is
offered again after a reload; the theme switch sticks; and a 390 px phone never scrolls sideways."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from browser_kit import build_course, failure_report, new_page, sign_in

from factories import make_pdf
from support import wait_until
from textbook import make_textbook

sync_api = pytest.importorskip("playwright.sync_api", reason="needs playwright (pip install -e '.[dev]')")
expect = sync_api.expect

ADMIN = "dean@school.test"
MAX_TABS_TO_QUIZ = 16  # skip links, the header, the crumb, the join code's buttons, then the tabs


def two_book_course(server: str, tmp_path: Path) -> dict:
    """The textbook and a 24-chapter PDF as one course; the course as the API gives it."""
    return build_course(server, ADMIN, [make_textbook(tmp_path / "book.pdf").path,
                                        make_pdf(tmp_path / "bio.pdf", repeat=8)], "Programming", timeout=180)


def lessons_of(course: dict) -> list[dict]:
    return [lesson for module in course["modules"] for lesson in module["lessons"]]


def unique_word(course: dict) -> tuple[str, dict]:
    """A word of one lesson's text found in no other lesson and in no title, and that lesson."""
    lessons = lessons_of(course)
    texts = [(lesson["title"] + " " + (lesson.get("content") or "")).lower() for lesson in lessons]
    for lesson in lessons:
        for word in sorted(set(re.findall(r"[a-z]{8,}", (lesson.get("content") or "").lower()))):
            if sum(word in t for t in texts) == 1:
                return word, lesson
    raise AssertionError("no lesson has a word of its own")


def test_finding_ones_way_in_a_course(server: str, make_user, page, browser, tmp_path: Path):
    make_user(ADMIN, "admin")
    course = two_book_course(server, tmp_path)
    lessons = lessons_of(course)
    assert len(course["modules"]) > 20, "the outline should be long enough to scroll"
    base = f"{server}/#/courses/{course['id']}"
    last = lessons[-1]
    phone = None
    try:
        sign_in(page, server, ADMIN)
        current_lesson_in_view(page, base, last)
        tab_order(page, last)
        skip_to_outline(page, last)
        modules_fold(page, base)
        search(page, base, course)
        resume(page, base, last)
        theme_switch(page, base)
        phone = new_page(browser, 390, 844)
        sign_in(phone, server, ADMIN)
        phone_width(phone, base)
    except Exception:
        failure_report(phone or page, tmp_path)
        raise
    assert page.js_errors == []
    assert phone.js_errors == []


def current_lesson_in_view(page, base: str, lesson: dict) -> None:
    """A late lesson is marked in the outline, which has scrolled to show it."""
    page.goto(f"{base}/lessons/{lesson['id']}")
    expect(page.get_by_role("heading", name=lesson["title"], level=2)).to_be_visible()
    link = page.locator(f'#module-list a[data-lesson="{lesson["id"]}"]')
    expect(link).to_have_attribute("aria-current", "page")
    expect(page.locator("#module-list a[aria-current]")).to_have_count(1)
    expect(page.locator("#tab-lessons")).to_have_attribute("aria-current", "page")
    nav = page.locator("#course-nav")
    assert nav.evaluate("n => n.scrollTop") > 0, "the outline did not scroll"
    assert link.evaluate("""a => {
        const n = a.closest('nav').getBoundingClientRect(), r = a.getBoundingClientRect();
        return r.top >= Math.max(n.top, 0) && r.bottom <= Math.min(n.bottom, innerHeight);
    }"""), "the current lesson is out of view"


def focused(page) -> str:
    return page.evaluate("""() => { const e = document.activeElement;
        return e.id || (e.closest('#module-list') ? 'outline' : e.tagName.toLowerCase()); }""")


def tab_order(page, lesson: dict) -> None:
    """From a fresh load: the skip links first, the course's tabs a few presses on (Ask, then Quiz), and the
    lesson's own controls before the outline's links."""
    page.reload()
    expect(page.get_by_role("heading", name=lesson["title"], level=2)).to_be_visible()
    seen: list[str] = []
    while "outline" not in seen:
        assert len(seen) < 80, f"the outline never came: {seen}"
        page.keyboard.press("Tab")
        seen.append(focused(page))
    assert seen[:2] == ["skip-content", "skip-outline"], seen
    assert seen.index("nav-chat") < seen.index("nav-quiz") < MAX_TABS_TO_QUIZ, seen
    assert seen.index("search-input") < seen.index("listen-button") < seen.index("lesson-done") < seen.index("outline")
    # The Quiz tab is a keyboard away.
    page.locator("#nav-quiz").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Quiz", level=2)).to_be_focused()
    expect(page.locator("#nav-quiz")).to_have_attribute("aria-current", "page")
    expect(page.locator("#module-list a[aria-current]")).to_have_count(0)


def skip_to_outline(page, lesson: dict) -> None:
    page.go_back()
    expect(page.get_by_role("heading", name=lesson["title"], level=2)).to_be_focused()
    page.locator("#skip-outline").focus()
    assert page.locator("#skip-outline").bounding_box()["y"] >= 0, "a focused skip link shows on screen"
    page.keyboard.press("Enter")
    expect(page.locator(f'#module-list a[data-lesson="{lesson["id"]}"]')).to_be_focused()
    assert page.url.endswith(f"/lessons/{lesson['id']}"), "a skip link changed the route"
    page.locator("#skip-content").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#lesson-title")).to_be_focused()


def modules_fold(page, base: str) -> None:
    """A module's title folds its lessons away, by mouse or keyboard."""
    module = page.locator("#module-list .module").first
    links = module.locator("a")
    expect(links.first).to_be_visible()
    module.locator("summary").click()
    expect(links.first).to_be_hidden()
    module.locator("summary").focus()
    page.keyboard.press("Enter")
    expect(links.first).to_be_visible()
    expect(page.locator("#module-list .file-group")).to_have_text(["book.pdf", "bio.pdf"])


def search(page, base: str, course: dict) -> None:
    """A word of one lesson's text finds that lesson, with a snippet; the keyboard opens it."""
    word, lesson = unique_word(course)
    box = page.get_by_role("searchbox", name="Search this course")
    box.fill(word)
    results = page.locator("#search-results a")
    expect(results).to_have_count(1)
    expect(results.first.locator(".search-title")).to_have_text(lesson["title"])
    expect(results.first.locator(".search-snippet mark")).to_have_text(re.compile(word, re.I))
    expect(page.locator("#search-status")).to_have_text(re.compile(r"^1 lesson matches"))
    box.press("ArrowDown")
    expect(results.first).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=lesson["title"], level=2)).to_be_focused()
    expect(page.locator("#search-results")).to_be_hidden()
    # Titles match too, first; Enter in the box opens the first lesson found.
    titled = lessons_of(course)[-5]
    box.fill(titled["title"])
    expect(results.first.locator(".search-title")).to_have_text(titled["title"])
    box.press("Enter")
    expect(page.locator("#lesson-title")).to_have_text(titled["title"])
    box.fill("zzzqqq")
    expect(page.locator("#search-status")).to_have_text("No lesson matches “zzzqqq”.")
    box.press("Escape")
    expect(box).to_have_value("")


def resume(page, base: str, lesson: dict) -> None:
    """The course's start offers the last lesson read, after a reload too."""
    page.goto(f"{base}/lessons/{lesson['id']}")
    expect(page.get_by_role("heading", name=lesson["title"], level=2)).to_be_visible()
    page.goto(base)
    page.reload()
    link = page.locator("#resume-link")
    expect(link).to_have_text(f"Resume: {lesson['title']}")
    expect(page.locator("#tab-lessons")).to_have_attribute("href", re.compile(rf"/lessons/{lesson['id']}$"))
    link.click()
    expect(page.get_by_role("heading", name=lesson["title"], level=2)).to_be_focused()
    expect(link).to_be_hidden()


def theme_switch(page, base: str) -> None:
    """Dark, whatever the system says, through a reload; back to the system's."""
    page.emulate_media(color_scheme="light")
    background = "getComputedStyle(document.body).backgroundColor"
    light = page.evaluate(background)
    page.get_by_label("Theme").select_option("dark")
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    dark = page.evaluate(background)
    assert dark != light
    page.reload()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    expect(page.get_by_label("Theme")).to_have_value("dark")
    assert page.evaluate(background) == dark
    page.get_by_label("Theme").select_option("system")
    wait_until(lambda: not page.evaluate("document.documentElement.hasAttribute('data-theme')"),
               message="the theme to follow the system again")
    assert page.evaluate(background) == light


def phone_width(page, base: str) -> None:
    """At 390 px the tabs show without the outline, and no course screen scrolls sideways."""
    def no_sideways(where: str) -> None:
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), f"{where} scrolls sideways"

    page.goto(base)
    expect(page.locator("#module-list")).to_be_hidden()
    for tab in ("Lessons", "Ask the course", "Quiz", "Progress"):
        expect(page.get_by_role("navigation", name="Course", exact=True).get_by_role("link", name=tab)).to_be_visible()
    no_sideways("the course's start")
    page.get_by_role("searchbox", name="Search this course").fill("the")
    expect(page.locator("#search-results a").first).to_be_visible()
    no_sideways("the search results")
    page.get_by_role("searchbox", name="Search this course").press("Escape")
    page.get_by_role("button", name="Contents", exact=True).click()
    expect(page.locator("#module-list")).to_be_visible()
    no_sideways("the open outline")
    page.locator("#module-list a").nth(2).click()
    expect(page.locator("#lesson-title")).to_be_focused()
    no_sideways("a lesson")
    for tab, heading in (("Ask the course", "Ask the course"), ("Quiz", "Quiz"), ("Progress", "Progress")):
        page.get_by_role("navigation", name="Course", exact=True).get_by_role("link", name=tab).click()
        expect(page.get_by_role("heading", name=heading, level=2)).to_be_focused()
        no_sideways(f"the {heading} panel")
