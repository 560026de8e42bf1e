"""Every main screen of the web app, in a real browser (fixtures in conftest.py), on a course built
from a real PDF, as the first-run admin, a teacher and a student: axe-core (from npm, installed by
`make test` into tests/web/axe and served to the page by the test) finds no serious or critical
accessibility violation in the light theme or the dark, and no screen scrolls sideways on a phone
360 or 430 px wide. Each screen is checked with what it shows filled in: a lesson with its source
page open, an answered question, a graded quiz, a score chart, a class with an attempt. And a
lesson's address opened signed out shows that lesson once signed in."""

from __future__ import annotations

from pathlib import Path

import pytest
from browser_kit import build_course, failure_report, fill_sign_in, generate_quiz, new_page, sign_in

from textbook import make_textbook

sync_api = pytest.importorskip("playwright.sync_api", reason="needs playwright (pip install -e '.[dev]')")
expect = sync_api.expect

AXE = Path(__file__).parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
AXE_URL = "/__test__/axe.min.js"  # answered by the test's route, never by the server
PHONE_WIDTHS = (360, 430)
ADMIN, TEACHER, STUDENT = "dean@school.test", "teacher@school.test", "student@school.test"

# The serious and critical violations on the page, one line each with up to three of its elements.
RUN_AXE = """async () => {
  const found = await axe.run(document, { resultTypes: ["violations"] });
  return found.violations.filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.help}: ` + v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(" | "));
}"""

# What sticks out past the right edge of the screen, the outermost elements first.
OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth <= window.innerWidth) return [];
  const out = [...document.querySelectorAll("body *")].filter((el) => {
    const box = el.getBoundingClientRect();
    return box.width > 0 && box.right > width + 0.5 && !el.closest("[hidden]");
  });
  return out.filter((el) => !out.includes(el.parentElement)).slice(0, 5)
    .map((el) => `${el.tagName.toLowerCase()}#${el.id}.${[...el.classList].join(".")} right=${Math.round(el.getBoundingClientRect().right)}`);
}"""


class Screens:
    """Checks one screen after another and keeps every problem, so one run reports them all."""

    def __init__(self) -> None:
        self.problems: dict[str, list[str]] = {}
        self.checked: list[str] = []

    def check(self, page, name: str) -> None:
        page.wait_for_function("() => !document.querySelector('main').innerText.includes('Loading')")
        if not page.evaluate("typeof window.axe === 'object'"):  # once per document
            page.add_script_tag(url=AXE_URL)
        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            if found := page.evaluate(RUN_AXE):
                self.problems[f"{name}, {scheme} theme"] = found
        page.emulate_media(color_scheme="light")
        size = page.viewport_size
        for width in PHONE_WIDTHS:
            page.set_viewport_size({"width": width, "height": 800})
            if wide := page.evaluate(OVERFLOW):
                self.problems[f"{name}, {width} px wide, scrolls sideways"] = wide
        page.set_viewport_size(size)
        self.checked.append(name)


def page_with_axe(browser, server: str):
    """A desktop page whose requests for AXE_URL get the axe-core file: the app's own origin, so its
    Content-Security-Policy (scripts from 'self' only) stays as it is in production."""
    page = new_page(browser)
    page.context.route(f"{server}{AXE_URL}", lambda route: route.fulfill(path=AXE, content_type="text/javascript"))
    return page


def test_every_screen_is_accessible_and_fits_a_phone(server: str, make_user, browser, tmp_path: Path):
    assert AXE.exists(), "axe-core is missing: `make test` installs it (npm ci --prefix tests/web/axe)"
    screens = Screens()
    page = page_with_axe(browser, server)
    try:
        page.goto(server)  # no account yet: the first-run screen
        expect(page.locator("#view-setup")).to_be_visible()
        screens.check(page, "first-run set-up")
        make_user(ADMIN, "admin")
        make_user(TEACHER, "teacher")
        make_user(STUDENT, "student")
        page.reload()
        expect(page.locator("#view-signin")).to_be_visible()
        screens.check(page, "sign in")
        course = build_course(server, TEACHER, make_textbook(tmp_path / "book.pdf", first_printed=30).path,
                              "Programming with Data")

        sign_in(page, server, STUDENT)
        screens.check(page, "courses, a student before joining")
        as_student(page, screens, course)
        page.context.close()

        page = page_with_axe(browser, server)
        deep_link(page, server, course)
        as_teacher(page, screens, course)
        page.context.close()

        page = page_with_axe(browser, server)
        sign_in(page, server, ADMIN)
        page.get_by_role("link", name="Users").click()
        expect(page.get_by_role("heading", name="Users", level=1)).to_be_visible()
        screens.check(page, "users")
    except Exception:
        failure_report(page, tmp_path)
        raise
    assert len(screens.checked) == 16, screens.checked
    assert screens.problems == {}, "\n".join(f"{where}:\n  " + "\n  ".join(what)
                                             for where, what in screens.problems.items())
    assert page.js_errors == []


def as_student(page, screens: Screens, course: dict) -> None:
    page.get_by_label("Join code").fill(course["join_code"])
    page.get_by_role("button", name="Join", exact=True).click()
    expect(page.locator("#course-list a")).to_have_text(["Programming with Data"])
    screens.check(page, "courses, a student in a class")
    page.locator("#course-list a").click()
    page.get_by_role("link", name="1.1 Values and names", exact=True).click()
    expect(page.locator("#lesson-title")).to_have_text("1.1 Values and names")
    page.get_by_role("button", name="Mark as done").click()
    screens.check(page, "lesson")
    questions = generate_quiz(page)
    for i in range(3):
        questions.nth(i).get_by_role("radio").nth(i % 4).check()
    screens.check(page, "quiz, answered")
    page.get_by_role("button", name="Submit answers").click()
    expect(page.locator("#quiz-score")).to_be_visible()
    screens.check(page, "quiz, graded")
    page.get_by_role("link", name="Progress").click()
    expect(page.locator("#progress-panel svg").first).to_be_visible()
    screens.check(page, "progress, with a score chart")


def deep_link(page, server: str, course: dict) -> None:
    """A lesson's address opened signed out: the sign-in screen, then that lesson (the course the
    app asked for early was refused, and is asked for again once signed in)."""
    lesson = next(le for m in course["modules"] for le in m["lessons"] if le["title"] == "2.1 Making data frames")
    page.goto(f"{server}/#/courses/{course['id']}/lessons/{lesson['id']}")
    fill_sign_in(page, TEACHER)
    expect(page.locator("#lesson-title")).to_have_text("2.1 Making data frames")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Courses").click()
    expect(page.get_by_role("heading", name="Courses", exact=True)).to_be_visible()


def as_teacher(page, screens: Screens, course: dict) -> None:
    screens.check(page, "courses, a teacher with the upload form")
    page.locator("#course-list a").click()
    page.get_by_role("link", name="2.2 Selecting rows", exact=True).click()  # a lesson with a listing
    expect(page.locator("#lesson-content pre").first).to_be_visible()
    screens.check(page, "lesson with code, the teacher's controls")
    page.locator("#lesson-source").get_by_role("button").click()
    expect(page.locator("#source-view img.source-image")).to_be_visible()
    page.wait_for_function("() => document.querySelector('#source-view img.source-image').naturalWidth > 0")
    screens.check(page, "lesson with its source page open")
    page.keyboard.press("Escape")
    page.get_by_role("link", name="Ask the course").click()
    page.get_by_label("Your question").fill("What does selecting rows keep?")
    page.get_by_role("button", name="Ask", exact=True).click()
    expect(page.locator(".chat-log .msg-bot[data-state=done]")).to_have_count(1, timeout=60_000)
    screens.check(page, "ask, an answer with citations")
    page.get_by_role("link", name="Class").click()
    expect(page.locator("#student-list > li")).to_have_count(1)
    screens.check(page, "class, with an attempt")
    page.get_by_role("link", name="Account").click()
    expect(page.get_by_role("heading", name="Account", level=1)).to_be_visible()
    screens.check(page, "account")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Courses").click()
    page.locator("#course-list").get_by_role("button", name="Rename").first.click()
    screens.check(page, "courses, renaming a course")
