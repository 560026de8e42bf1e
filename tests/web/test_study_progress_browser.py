"""Chat that stays and progress, in a real browser (fixtures in conftest.py): a student asks, reloads
and reopens the conversation; asks about one lesson; stops an answer; marks a lesson done, which a
reload keeps; takes a quiz and sees the score chart. The teacher's Class view shows the attempt and
the questions most often missed."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from browser_kit import PASSWORD, failure_report, generate_quiz, new_page, sign_in

from factories import make_pdf
from procs import poll_job

sync_api = pytest.importorskip("playwright.sync_api", reason="needs playwright (pip install -e '.[dev]')")
expect = sync_api.expect

TEACHER, STUDENT = "teacher@school.example", "student@school.example"
QUESTION = "What does chlorophyll absorb?"


@contextmanager
def _client(server: str, email: str) -> Iterator[httpx.Client]:
    """Signed in with the cookie, as the browser is."""
    with httpx.Client(base_url=server, headers={"Origin": server}, timeout=30) as client:
        assert client.post("/api/auth/login", json={"email": email, "password": PASSWORD}).status_code == 200
        yield client


def class_with_a_course(server: str, tmp_path: Path) -> dict:
    """Teacher's course from a real PDF, which the student joined; the course as the API gives it."""
    pdf = make_pdf(tmp_path / "biology.pdf")
    with _client(server, TEACHER) as teacher, pdf.open("rb") as f:
        accepted = teacher.post("/api/upload-pdfs", data={"course_title": "Intro Biology"},
                                files={"files": (pdf.name, f, "application/pdf")})
        assert accepted.status_code == 202, accepted.text
        job = poll_job(server, accepted.json()["job_id"], timeout=90)
        assert job["status"] == "completed", job
        course = teacher.get(f"/api/courses/{job['result']['course_id']}").json()
    with _client(server, STUDENT) as student:
        assert student.post("/api/join", json={"code": course["join_code"]}).status_code == 200
    return course


def test_a_student_keeps_conversations_and_progress_and_the_teacher_sees_the_class(server: str, make_user, browser,
                                                                                   tmp_path: Path):
    make_user(TEACHER, "teacher")
    make_user(STUDENT, "student")
    course = class_with_a_course(server, tmp_path)
    base = f"{server}/#/courses/{course['id']}"
    student = new_page(browser)
    teacher = new_page(browser)
    current = student
    try:
        sign_in(student, server, STUDENT)
        conversation_stays(student, base)
        ask_about_a_lesson(student, base, course)
        stop_an_answer(browser, server, base)
        lesson_done_stays(student, base, course)
        missed = quiz_and_chart(student, base)

        current = teacher
        sign_in(teacher, server, TEACHER)
        class_results(teacher, base, missed)
    except Exception:
        failure_report(current, tmp_path)
        raise
    assert student.js_errors == [] and teacher.js_errors == []


def ask(page, question: str) -> None:
    page.get_by_label("Your question").fill(question)
    page.get_by_role("button", name="Ask", exact=True).click()
    expect(page.locator(".chat-log .msg-bot").last).to_have_attribute("data-state", "done", timeout=60_000)


def conversation_stays(page, base: str) -> None:
    page.goto(f"{base}/chat")
    expect(page.get_by_role("heading", name="Ask the course")).to_be_visible()
    ask(page, QUESTION)
    answer = page.locator(".chat-log .msg-bot .answer-text").last.inner_text()
    assert "light" in answer.lower()

    page.reload()
    expect(page.get_by_role("heading", name="Ask the course")).to_be_visible()
    past = page.locator("#chat-history")
    expect(past).to_be_visible()
    past.locator("summary").click()
    entry = past.get_by_role("button", name=re.compile("^" + re.escape(QUESTION)))  # not its "Delete “…”"
    expect(entry).to_have_count(1)
    entry.click()
    log = page.locator(".chat-log")
    expect(log.locator(".msg-user")).to_have_text([re.compile(re.escape(QUESTION))])
    expect(log.locator(".msg-bot .answer-text")).to_have_text([answer])
    expect(log.locator(".msg-bot .citation")).not_to_have_count(0)  # its sources came back too
    expect(entry).to_have_attribute("aria-current", "true")
    # A follow-up continues the reopened conversation: still one entry, now of two questions.
    ask(page, "Where does it take place?")
    expect(past.locator(".chat-past")).to_have_count(1)
    expect(past.locator(".chat-past-facts")).to_contain_text("2 questions")


def ask_about_a_lesson(page, base: str, course: dict) -> None:
    lesson = course["modules"][0]["lessons"][0]
    page.goto(f"{base}/lessons/{lesson['id']}")
    expect(page.get_by_role("heading", name=lesson["title"], level=2)).to_be_visible()
    page.get_by_role("button", name="Ask about this lesson").click()
    expect(page.get_by_role("heading", name="Ask the course")).to_be_visible()
    expect(page.locator("#chat-scope")).to_be_visible()
    expect(page.locator("#chat-scope-title")).to_have_text(lesson["title"])
    ask(page, QUESTION)
    cited = page.locator(".chat-log .msg-bot").last.locator(".citation .cite-ref").all_inner_texts()
    for label in cited:  # "biology.pdf, pages 1-2": a passage on the lesson's pages (it may run past them)
        first, *rest = (int(n) for n in re.findall(r"\d+", label.split(",")[-1]))
        assert first <= lesson["page_end"] and (rest or [first])[-1] >= lesson["page_start"], (label, lesson)
    assert cited
    page.get_by_role("button", name="Ask the whole course").click()
    expect(page.locator("#chat-scope")).to_be_hidden()


def stop_an_answer(browser, server: str, base: str) -> None:
    """Stop, against a socket that answers slowly: the server's side of a stop is tests/api's; here the
    page's. The socket is stood in for (its first token, then nothing until the stop)."""
    page = new_page(browser)
    sent = []

    def chat_socket(ws) -> None:
        def on_message(message) -> None:
            data = json.loads(message)
            sent.append(data)
            if data.get("type") == "stop":
                ws.send(json.dumps({"type": "stopped", "session_id": "held", "answer": "Chlorophyll absorbs"}))
            else:
                ws.send(json.dumps({"type": "session", "session_id": "held"}))
                ws.send(json.dumps({"type": "token", "text": "Chlorophyll absorbs"}))

        ws.on_message(on_message)

    page.route_web_socket(re.compile(r"/ws/chat$"), chat_socket)
    sign_in(page, server, STUDENT)
    page.goto(f"{base}/chat")
    page.get_by_label("Your question").fill(QUESTION)
    page.get_by_role("button", name="Ask", exact=True).click()
    stop = page.get_by_role("button", name="Stop")
    expect(stop).to_be_visible()
    stop.click()
    bot = page.locator(".chat-log .msg-bot").last
    expect(bot).to_have_attribute("data-state", "stopped")
    expect(bot.locator(".note")).to_have_text("Stopped.")
    expect(stop).to_be_hidden()
    expect(page.get_by_role("button", name="Ask", exact=True)).to_be_enabled()
    assert sent[-1] == {"type": "stop"}
    assert page.js_errors == []
    page.context.close()


def lesson_done_stays(page, base: str, course: dict) -> None:
    lesson = course["modules"][0]["lessons"][0]
    page.goto(f"{base}/lessons/{lesson['id']}")
    done = page.get_by_role("button", name="Mark as done")
    expect(done).to_have_attribute("aria-pressed", "false")
    done.click()
    expect(done).to_have_attribute("aria-pressed", "true")
    page.reload()
    expect(page.get_by_role("heading", name=lesson["title"], level=2)).to_be_visible()
    expect(page.get_by_role("button", name="Mark as done")).to_have_attribute("aria-pressed", "true")
    expect(page.locator(f'#module-list a[data-lesson="{lesson["id"]}"]')).to_have_class(re.compile(r"\bdone\b"))


def quiz_and_chart(page, base: str) -> int:
    """Take a quiz (twice if the first try was all right, so that something is missed); the Progress
    panel charts the attempts. How many questions the attempts missed."""
    page.goto(f"{base}/quiz")
    questions = generate_quiz(page)
    for i in range(3):
        questions.nth(i).get_by_role("radio").nth(0).check()
    page.get_by_role("button", name="Submit answers").click()
    expect(page.locator("#quiz-score")).to_have_text(re.compile(r"^[0-3] / 3$"))
    score = int(page.locator("#quiz-score").inner_text().split(" /")[0])
    attempts = 1
    if score == 3:  # every first option right: another option is wrong for sure
        page.get_by_role("button", name="Retake this quiz").click()
        for i in range(3):
            questions.nth(i).get_by_role("radio").nth(1).check()
        page.get_by_role("button", name="Submit answers").click()
        expect(page.locator("#quiz-score")).to_have_text("0 / 3")
        attempts = 2

    page.get_by_role("link", name="Progress").click()
    expect(page.get_by_role("heading", name="Progress", level=2)).to_be_visible()
    expect(page.locator("#progress-status")).to_contain_text("1 of ")
    chart = page.get_by_role("img", name=re.compile(r"^Scores over time"))
    expect(chart).to_have_count(1)
    expect(chart.locator("circle")).to_have_count(attempts)
    expect(page.locator("#progress-quizzes tbody tr")).to_have_count(attempts)
    return 3 - score if attempts == 1 else 3


def class_results(page, base: str, missed: int) -> None:
    page.goto(f"{base}/class")
    expect(page.get_by_role("heading", name="Class", level=2)).to_be_visible()
    rows = page.get_by_role("table", name=f"Quiz attempts of {STUDENT}").locator("tbody tr")
    expect(rows).not_to_have_count(0)
    section = page.locator("#class-missed-section")
    expect(section.get_by_role("heading", name="Most often missed")).to_be_visible()
    items = section.locator("li.missed")
    expect(items).to_have_count(missed)
    expect(items.first.locator(".missed-count")).to_contain_text(re.compile(r"^Missed in \d of \d attempts?"))
