"""The web UI in a real browser: Debian's Chromium, driven by Playwright, against a real `profai serve`
with its own data directory. One student's path: upload a PDF, read a lesson, listen, chat, take a quiz."""

from __future__ import annotations

import re
import signal
import time
from pathlib import Path

import httpx
import pytest

from factories import BIOLOGY, make_pdf
from procs import kill_group, start_server

CHROMIUM = Path("/usr/bin/chromium")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason="needs Debian's Chromium at /usr/bin/chromium (apt-get install chromium)"),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="needs playwright (pip install -e '.[dev]')")
expect = sync_api.expect

SOURCE_PAGES = re.compile(r"biology\.pdf, pages? \d+(-\d+)?")


@pytest.fixture
def server(tmp_path: Path):
    env = {"PROFAI_DATA_DIR": str(tmp_path / "data"), "ENVIRONMENT": "test", "JOB_RUNNER": "local",
           "GENERATOR": "extractive", "EMBEDDER": "local", "SPEECH": "espeak", "MAX_WORKERS": "2",
           "COMPUTE_PROCESSES": "1"}
    log = tmp_path / "server.log"
    proc, url = start_server(env, log)
    yield url
    kill_group(proc, signal.SIGTERM)


@pytest.fixture
def page(tmp_path: Path):
    with sync_api.sync_playwright() as p:
        # Debian's browser, never a downloaded one: `playwright install` needs a network we do not have.
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                    args=["--autoplay-policy=no-user-gesture-required"])
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.js_errors = []
        page.on("pageerror", lambda exc: page.js_errors.append(str(exc)))
        yield page
        browser.close()


def test_student_path_from_upload_to_quiz(server: str, page, tmp_path: Path):
    # The first chapter runs over three pages, so its lesson shows where pages 2 and 3 begin.
    pdf = make_pdf(tmp_path / "biology.pdf", [(BIOLOGY[0][0], BIOLOGY[0][1] * 8), *BIOLOGY[1:]])
    page.goto(server)
    expect(page.get_by_role("heading", name="Courses", exact=True)).to_be_visible()

    try:
        create_course(page, pdf)
        read_lesson(page)
        listen(page)
        chat(page)
        quiz(page)
        chat_error(page, server)
        phone_width(page)
    except Exception:
        # What the browser showed, and what the server said, at the moment it went wrong.
        shot = tmp_path / "failure.png"
        page.screenshot(path=str(shot), full_page=True)
        log = (tmp_path / "server.log").read_text(errors="replace")[-3000:]
        print(f"screenshot: {shot}\nserver log (tail):\n{log}")
        raise
    assert page.js_errors == []


def create_course(page, pdf: Path) -> None:
    page.get_by_label("Title").fill("Intro Biology")
    page.get_by_label("PDF files").set_input_files(pdf)
    page.get_by_role("button", name="Create course").click()

    bar = page.locator("#upload-progress")
    expect(bar).to_be_visible()
    ready = page.get_by_role("link", name="Open “Intro Biology”")
    seen: list[int] = []
    deadline = time.monotonic() + 90
    while not ready.is_visible():
        assert time.monotonic() < deadline, f"the course was not ready; progress seen: {seen}"
        assert not page.locator("#upload-error").is_visible(), page.locator("#upload-error").inner_text()
        seen.append(bar.evaluate("el => el.value"))
        page.wait_for_timeout(150)
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
    parts = page.evaluate("([c, m]) => import('/static/js/format.js').then((f) => f.lessonParagraphs(c, m))",
                          [content, marks])
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
    page.get_by_role("link", name="Quiz").click()
    page.get_by_label("Questions").fill("3")
    page.get_by_label("Difficulty").select_option("easy")
    page.get_by_role("button", name="Generate quiz").click()
    page.wait_for_selector("#quiz-questions > li, #quiz-error:not([hidden])", timeout=60_000)
    expect(page.locator("#quiz-error")).to_be_hidden()
    questions = page.locator("#quiz-questions > li")
    expect(questions).to_have_count(3)
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
    assert httpx.delete(f"{server}/api/courses/{course_id}").status_code == 204
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


def _json(payload) -> dict:
    import json

    try:
        value = json.loads(payload)
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}
