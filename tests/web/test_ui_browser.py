"""The web UI in a real browser: Debian's Chromium, driven by Playwright, against a real `profai serve`
with its own data directory (fixtures in conftest.py). One teacher's path: sign in, upload a PDF, read a
lesson, listen, chat, take a quiz; then the account screens: API keys, password, signing out."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from browser_kit import PASSWORD, failure_report, generate_quiz, sign_in

from factories import BIOLOGY, make_pdf
from support import admin_http, wait_until

sync_api = pytest.importorskip("playwright.sync_api", reason="needs playwright (pip install -e '.[dev]')")
expect = sync_api.expect

SOURCE_PAGES = re.compile(r"biology\.pdf, pages? \d+(-\d+)?")
TEACHER = "teacher@school.example"


def test_teacher_path_from_upload_to_quiz(server: str, make_user, page, tmp_path: Path):
    # The first chapter runs over three pages, so its lesson shows where pages 2 and 3 begin.
    pdf = make_pdf(tmp_path / "biology.pdf", [(BIOLOGY[0][0], BIOLOGY[0][1] * 8), *BIOLOGY[1:]])
    make_user(TEACHER, "teacher")
    try:
        signed_out_first(page, server)
        sign_in(page, server, TEACHER)
        create_course(page, pdf)
        read_lesson(page)
        listen(page)
        chat(page)
        quiz(page)
        chat_error(page, server)
        phone_width(page)
    except Exception:
        failure_report(page, tmp_path)
        raise
    assert page.js_errors == []


def test_account_keys_password_and_signing_out(server: str, make_user, page, tmp_path: Path):
    make_user(TEACHER, "teacher")
    try:
        sign_in(page, server, TEACHER)
        api_keys(page, server)
        change_password(page, server)
        session_ends(page, server)
        narrow_screens(page, ["#/", "#/account"])
        sign_out(page, server)
        assert no_sideways_scroll(page)
    except Exception:
        failure_report(page, tmp_path)
        raise
    assert page.js_errors == []


def test_first_run_admin_and_users(server: str, page, tmp_path: Path):
    """A new server has no account: the page offers to create the admin, who then manages users."""
    try:
        first_run(page, server)
        users(page, server)
        narrow_screens(page, ["#/users"])
    except Exception:
        failure_report(page, tmp_path)
        raise
    assert page.js_errors == []


def signed_out_first(page, server: str) -> None:
    """Nothing but the sign-in screen until someone signs in; a wrong password is announced."""
    page.goto(f"{server}/#/courses/1")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main")).to_be_hidden()
    expect(page.locator("#view-courses")).to_be_hidden()
    form = page.locator("#view-signin")
    form.get_by_label("Email").fill(TEACHER)
    form.get_by_label("Password").fill("not the password")
    form.get_by_role("button", name="Sign in").click()
    live = page.locator("#signin-live")
    expect(live).to_have_attribute("aria-live", "assertive")
    expect(live).to_have_text("Wrong email or password.")
    expect(form.get_by_label("Password")).to_be_focused()


def create_course(page, pdf: Path) -> None:
    page.get_by_label("Title").fill("Intro Biology")
    page.get_by_label("PDF files").set_input_files(pdf)
    page.get_by_role("button", name="Create course").click()

    bar = page.locator("#upload-progress")
    expect(bar).to_be_visible()
    ready = page.get_by_role("link", name="Open “Intro Biology”")
    seen: list[int] = []

    def shown(what) -> bool:
        assert not page.locator("#upload-error").is_visible(), page.locator("#upload-error").inner_text()
        seen.append(bar.evaluate("el => el.value"))
        return what()

    # Course first: the link comes once the course can be read, the end once it is indexed for chat.
    wait_until(lambda: shown(ready.is_visible), timeout=90, interval=0.15,
               message=lambda: f"the course to be readable; progress: {seen}")
    done = page.locator("#upload-done")
    wait_until(lambda: shown(lambda: done.inner_text().startswith("Course ready")), timeout=90, interval=0.15,
               message=lambda: f"the course to be indexed; progress: {seen}")
    seen.append(bar.evaluate("el => el.value"))
    assert seen == sorted(seen) and seen[-1] == 100, f"progress went down or stopped short: {seen}"
    expect(page.locator("#upload-message")).not_to_be_empty()
    expect(page.locator("#course-list")).to_contain_text("Intro Biology")
    ready.click()


def read_lesson(page) -> None:
    expect(page.get_by_role("heading", name="Intro Biology", level=1)).to_be_visible()
    expect(page.locator("#course-files-list")).to_contain_text("biology.pdf")
    contents = page.get_by_role("navigation", name="Course contents")
    # The made-up PDF's chapters carry no numbers of their own, so the page numbers them.
    expect(contents.locator(".module-title").first).to_have_text(re.compile(r"^1\. \S"))
    first = contents.locator("#module-list a").first
    title = first.inner_text()
    first.click()
    expect(page).to_have_url(re.compile(r"#/courses/\d+/lessons/\d+$"))
    expect(page.get_by_role("heading", name=title, level=2)).to_be_visible()
    expect(first).to_have_attribute("aria-current", "page")
    expect(page.locator("#lesson-module")).to_have_text(re.compile(r"^Module 1 · \S"))
    expect(page.locator("#lesson-source")).to_have_text(SOURCE_PAGES)
    # An outline that numbers its chapters keeps its own numbers, with no position beside them.
    headings = page.evaluate("""import('/static/js/format.js').then((f) => f.moduleHeadings(
        [{title: 'Preface'}, {title: '2 Simple manipulations'}, {title: 'A A sample session'}]))""")
    assert headings == ["Preface", "2 Simple manipulations", "A A sample session"]
    assert page.evaluate("import('/static/js/format.js').then((f) => f.moduleHeadings([{title: 'Cells'}]))") == ["1. Cells"]
    expect(page.locator("#lesson-summary")).not_to_be_empty()
    expect(page.locator("#lesson-content p").first).not_to_be_empty()
    expect(page.locator("#lesson-content")).to_contain_text("chlorophyll")
    breaks = page.locator("#lesson-content [role=doc-pagebreak]")
    expect(breaks).to_have_text(["p. 2", "p. 3"])
    expect(breaks.first).to_have_attribute("title", "biology.pdf, page 2 begins here")
    # Offsets count code points, as Python does: a character outside the BMP takes one, not two.
    content = "Let 𝑥 be a vector.\n\nIt runs on and on"
    marks = [[0, 4], [content.index("It runs"), 5], [content.index("and on"), 6]]
    blocks = [{"kind": "paragraph", "text": "Let 𝑥 be a vector."}, {"kind": "paragraph", "text": "It runs on and on"}]
    parts = page.evaluate("(l) => import('/static/js/format.js').then((f) => f.lessonBlocks(l).map((b) => b.parts))",
                          {"content": content, "page_marks": marks, "blocks": blocks})
    assert parts == [["Let 𝑥 be a vector."], [5, "It runs on ", 6, "and on"]]


def listen(page) -> None:
    page.get_by_role("button", name="Listen").click()
    audio = page.locator("#lesson-audio")
    # Playable (metadata loaded, a real duration) or failed with a message: whichever comes first.
    page.wait_for_function("() => { const a = document.getElementById('lesson-audio');"
                           " return (a.readyState >= 1 && a.duration > 0)"
                           " || document.getElementById('listen-status').textContent.startsWith('Could not'); }",
                           timeout=60_000)
    expect(page.locator("#listen-status")).not_to_contain_text("Could not")
    expect(audio).to_be_visible()
    assert audio.evaluate("a => a.duration") > 1
    assert audio.evaluate("a => a.error") is None


def chat(page) -> None:
    sent: list[str] = []
    received: list[str] = []

    def on_socket(ws):
        ws.on("framesent", lambda payload: sent.append(payload))
        ws.on("framereceived", lambda payload: received.append(payload))

    page.on("websocket", on_socket)
    page.get_by_role("link", name="Ask the course").click()
    expect(page.get_by_role("heading", name="Ask the course")).to_be_visible()
    # Note how much answer text is on screen when the first citation appears: streamed text comes first.
    page.evaluate("""() => {
        window.textAtFirstCitation = null;
        new MutationObserver(() => {
            if (window.textAtFirstCitation === null && document.querySelector('#chat-log-slot .citation')) {
                window.textAtFirstCitation = document.querySelector('#chat-log-slot .answer-text').textContent.length;
            }
        }).observe(document.getElementById('chat-log-slot'), {subtree: true, childList: true, characterData: true});
    }""")

    box = page.get_by_label("Your question")
    box.fill("What does chlorophyll absorb?")
    box.press("Enter")
    answer = page.locator(".msg-bot").nth(0)
    expect(answer).not_to_have_attribute("data-state", "streaming", timeout=60_000)
    assert answer.get_attribute("data-state") == "done", answer.inner_text()
    assert int(answer.get_attribute("data-tokens")) >= 2, "the answer was not streamed token by token"
    expect(answer.locator(".answer-text")).to_contain_text(re.compile(r"\w+"))
    citation = answer.locator(".citation").first
    expect(citation.locator(".cite-ref")).to_have_text(re.compile(r"^biology\.pdf, pages? \d+"))
    expect(citation.locator("blockquote")).not_to_be_empty()
    assert page.evaluate("window.textAtFirstCitation") > 0, "citations appeared before any answer text"

    # A follow-up goes over the same session.
    box.fill("Where does it take place?")
    page.get_by_role("button", name="Ask", exact=True).click()
    follow_up = page.locator(".msg-bot").nth(1)
    expect(follow_up).not_to_have_attribute("data-state", "streaming", timeout=60_000)
    assert follow_up.get_attribute("data-state") == "done", follow_up.inner_text()
    session = next(f for f in map(_json, received) if f.get("type") == "session")["session_id"]
    questions = [f for f in map(_json, sent) if "question" in f]
    assert len(questions) == 2 and "session_id" not in questions[0], questions
    assert questions[1]["session_id"] == session


def quiz(page) -> None:
    questions = generate_quiz(page, 3, "easy")
    for i in range(3):
        options = questions.nth(i).get_by_role("radio")
        expect(options).to_have_count(4)
        options.nth(i % 4).check()
    page.get_by_role("button", name="Submit answers").click()
    expect(page.locator("#quiz-score")).to_have_text(re.compile(r"^[0-3] / 3$"))
    feedback = page.locator("#quiz-questions .feedback")
    expect(feedback).to_have_count(3)
    for i in range(3):
        expect(feedback.nth(i)).to_be_visible()
        expect(feedback.nth(i)).to_contain_text(re.compile(r"Source: biology\.pdf, page \d+"))
    assert page.locator("#quiz-questions input:enabled").count() == 0


def chat_error(page, server: str) -> None:
    """The course is deleted while a student has it open: the server's error frame shows in the chat."""
    course_id = re.search(r"#/courses/(\d+)", page.url).group(1)
    assert admin_http.delete(f"{server}/api/courses/{course_id}").status_code == 204
    page.get_by_role("link", name="Ask the course").click()
    page.get_by_label("Your question").fill("What is the Calvin cycle?")
    page.get_by_role("button", name="Ask", exact=True).click()
    failed = page.locator(".msg-bot").nth(2)
    expect(failed).to_have_attribute("data-state", "error")
    expect(failed.get_by_role("alert")).to_contain_text(f"Course {course_id} not found")
    expect(page.get_by_role("button", name="Ask", exact=True)).to_be_enabled()


def phone_width(page) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    toggle = page.get_by_role("button", name="Contents")
    expect(toggle).to_be_visible()
    expect(page.locator("#module-list")).to_be_hidden()
    toggle.click()
    expect(page.locator("#module-list")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "the page scrolls sideways"


NEW_PASSWORD = "a brand new passphrase"


def api_keys(page, server: str) -> None:
    """A new key's secret shows once, with a warning and a copy button; it works until revoked."""
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Account").click()
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()
    expect(page.locator("#keys-status")).to_have_text("You have no API keys.")
    page.get_by_label("Name of the new key").fill("grading script")
    page.get_by_role("button", name="Create key").click()

    box = page.locator("#key-secret")
    expect(box.get_by_role("heading", name="Copy your new key now")).to_be_focused()
    expect(box).to_contain_text("shown only this once")
    secret = box.get_by_label("Key “grading script”").input_value()
    assert len(secret) > 20
    box.get_by_role("button", name="Copy").click()
    expect(box.get_by_role("status")).to_have_text("Copied to the clipboard.")
    assert page.evaluate("navigator.clipboard.readText()") == secret
    me = admin_http.get(f"{server}/api/auth/me", headers={"X-API-Key": secret})
    assert me.status_code == 200 and me.json()["user"]["email"] == TEACHER, me.text

    keys = page.locator("#key-list > li")
    expect(keys).to_have_count(1)
    expect(keys.first).to_contain_text("grading script")
    expect(keys.first).not_to_contain_text(secret)  # the list shows the prefix only
    box.get_by_role("button", name="I have saved it").click()
    expect(box).to_be_hidden()
    assert page.locator("#key-secret-value").input_value() == ""  # gone from the page

    page.get_by_role("button", name="Revoke key “grading script”").click()
    page.get_by_role("button", name="Yes, revoke key “grading script”").click()
    expect(page.locator("#keys-live")).to_have_text("Key “grading script” revoked: it no longer works.")
    expect(keys.first.locator(".badge")).to_have_text("Revoked")
    assert admin_http.get(f"{server}/api/auth/me", headers={"X-API-Key": secret}).status_code == 401


def change_password(page, server: str) -> None:
    form = page.locator("#password-form")
    live = page.locator("#password-live")
    form.get_by_label("Current password").fill("not my password")
    form.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    form.get_by_label("New password again").fill(NEW_PASSWORD)
    form.get_by_role("button", name="Change password").click()
    expect(live).to_have_text("The current password is not right.")
    expect(form.get_by_label("Current password")).to_be_focused()

    form.get_by_label("Current password").fill(PASSWORD)
    form.get_by_label("New password", exact=True).fill("short")
    form.get_by_role("button", name="Change password").click()
    expect(live).to_have_text("The new password needs at least 8 characters.")

    form.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    form.get_by_role("button", name="Change password").click()
    expect(live).to_have_text("Password changed. Your other sessions were signed out.")
    assert form.get_by_label("Current password").input_value() == ""
    login = httpx.post(f"{server}/api/auth/login", json={"email": TEACHER, "password": NEW_PASSWORD})
    assert login.status_code == 200, login.text
    page.reload()  # this browser's own session goes on
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()


def session_ends(page, server: str) -> None:
    """A 401 anywhere brings the sign-in screen; signing in again goes on where the user was going."""
    page.context.clear_cookies()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Courses").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.locator("#signin-live")).to_have_text("Your session has ended. Sign in again to go on.")
    expect(page.locator("#view-courses")).to_be_hidden()
    form = page.locator("#view-signin")
    form.get_by_label("Email").fill(TEACHER)
    form.get_by_label("Password").fill(NEW_PASSWORD)
    form.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Courses", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name="New course")).to_be_visible()


def sign_out(page, server: str) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.locator("#whoami")).to_be_hidden()
    assert page.request.get(f"{server}/api/auth/me").status == 401
    assert not [c for c in page.context.cookies() if c["name"] == "profai_session"]


ADMIN = "admin@school.example"
STUDENT = "student@school.example"


def first_run(page, server: str) -> None:
    page.goto(server)
    form = page.locator("#view-setup")
    expect(form.get_by_role("heading", name="Create the admin account")).to_be_visible()
    port = server.rsplit(":", 1)[1]
    expect(form).to_contain_text(f"only in a browser on the server itself, opened at http://127.0.0.1:{port}/")
    expect(form).to_contain_text("profai admin create")
    form.get_by_label("Email").fill(ADMIN)
    form.get_by_label("Password", exact=True).fill(PASSWORD)
    form.get_by_label("Password again").fill("something else")
    form.get_by_role("button", name="Create the admin account").click()
    expect(page.locator("#setup-live")).to_have_text("The two passwords differ.")
    form.get_by_label("Password again").fill(PASSWORD)
    form.get_by_role("button", name="Create the admin account").click()
    expect(page.get_by_role("heading", name="Courses", exact=True)).to_be_visible()
    expect(page.locator("#whoami-text")).to_have_text(f"{ADMIN} · Admin")
    assert admin_http.get(f"{server}/api/setup").json() == {"setup_needed": False}


def users(page, server: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Users").click()
    expect(page.get_by_role("heading", name="Users", level=1)).to_be_visible()
    rows = page.locator("#user-list > li")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("You")
    expect(rows.first.get_by_role("button")).to_have_count(0)  # admins do not disable themselves

    form = page.locator("#user-form")
    form.get_by_label("Email").fill(STUDENT)
    form.get_by_label("Name").fill("Sam Student")
    form.get_by_label("Role").select_option("student")
    form.get_by_label("First password").fill(PASSWORD)
    form.get_by_role("button", name="Add user").click()
    expect(page.locator("#user-form-live")).to_have_text(f"Added student {STUDENT}. Give them their first password.")
    expect(rows).to_have_count(2)
    row = page.locator(f'#user-list > li[data-user="{STUDENT}"]')
    expect(row).to_contain_text("Student")

    def login() -> int:
        return httpx.post(f"{server}/api/auth/login", json={"email": STUDENT, "password": PASSWORD}).status_code

    assert login() == 200
    row.get_by_role("button", name=f"Disable Sam Student ({STUDENT})").click()
    expect(page.locator("#users-live")).to_have_text(f"{STUDENT} is disabled and signed out everywhere.")
    expect(row.locator(".badge.bad")).to_have_text("Disabled")
    expect(row.get_by_role("button", name=re.compile("^Enable"))).to_be_focused()
    assert login() == 401
    row.get_by_role("button", name=f"Enable Sam Student ({STUDENT})").click()
    expect(page.locator("#users-live")).to_have_text(f"{STUDENT} can sign in again.")
    expect(row.locator(".badge.bad")).to_have_count(0)
    assert login() == 200


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def narrow_screens(page, hashes: list[str]) -> None:
    """The smallest phone width the app supports: nothing scrolls sideways."""
    page.set_viewport_size({"width": 360, "height": 740})
    for route in hashes:
        page.evaluate("(h) => { location.hash = h; }", route)
        expect(page.locator("main h1:visible").first).to_be_visible()
        # The view's data is in once no "Loading …" remains on it.
        page.wait_for_function("() => !document.querySelector('main').innerText.includes('Loading')")
        assert no_sideways_scroll(page), f"{route} scrolls sideways at 360 px"


def _json(payload) -> dict:
    import json

    try:
        value = json.loads(payload)
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}
