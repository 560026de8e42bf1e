"""Classes in a real browser (fixtures in conftest.py): a teacher makes a course and hands out its join
code, a student joins with it and sees that course only, takes a quiz, and the teacher's Class view shows
the attempt. And pages of other origins cannot use a signed-in teacher's session."""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from browser_kit import build_course, failure_report, generate_quiz, new_page, sign_in

from factories import BIOLOGY, make_pdf
from support import admin_http, wait_until

sync_api = pytest.importorskip("playwright.sync_api", reason="needs playwright (pip install -e '.[dev]')")
expect = sync_api.expect

TEACHER, OTHER_TEACHER, STUDENT = "teacher@school.example", "other@school.example", "student@school.example"


def test_a_student_joins_with_the_code_and_the_teacher_sees_the_attempt(server: str, make_user, browser,
                                                                          tmp_path: Path):
    for email, role in ((TEACHER, "teacher"), (OTHER_TEACHER, "teacher"), (STUDENT, "student")):
        make_user(email, role)
    # Another teacher's course, which the student must never see.
    other_course = build_course(server, OTHER_TEACHER, make_pdf(tmp_path / "genetics.pdf", BIOLOGY[2:]), "Genetics")["id"]

    teacher = new_page(browser)
    student = new_page(browser, width=390, height=844)  # the student on a phone
    current = teacher
    try:
        sign_in(teacher, server, TEACHER)
        old_code, code = make_course(teacher, tmp_path)
        course_id = int(re.search(r"#/courses/(\d+)", teacher.url).group(1))
        # The teacher lists their own course, not the other teacher's.
        teacher.get_by_role("link", name="All courses").click()
        expect(teacher.locator("#course-list a")).to_have_text(["Intro Biology"])

        current = student
        sign_in(student, server, STUDENT)
        join(student, old_code, code, course_id)
        # Not even by its address: the other teacher's course is not found for this student.
        student.goto(f"{server}/#/courses/{other_course}")
        expect(student.get_by_role("heading", name="Course not found")).to_be_visible()
        student.goto(f"{server}/#/courses/{course_id}")
        answers = take_quiz(student)
        assert student.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "the page scrolls sideways"

        current = teacher
        class_view(teacher, answers)
    except Exception:
        failure_report(current, tmp_path)
        raise
    assert teacher.js_errors == [] and student.js_errors == []


def make_course(page, tmp_path: Path) -> tuple[str, str]:
    """Upload a PDF, open the course, see its join code and replace it: (the old code, the new one)."""
    page.get_by_label("Title").fill("Intro Biology")
    page.get_by_label("PDF files").set_input_files(make_pdf(tmp_path / "biology.pdf"))
    page.get_by_role("button", name="Create course").click()
    page.get_by_role("link", name="Open “Intro Biology”").click(timeout=90_000)
    expect(page.get_by_role("heading", name="Intro Biology", level=1)).to_be_visible()

    shown = page.locator("#course-join-code")
    expect(shown).to_have_text(re.compile(r"^\S{4,}$"))
    old_code = shown.inner_text()
    page.get_by_role("button", name="New code").click()
    expect(page.locator("#join-code-status")).to_contain_text("the old one no longer works")
    expect(shown).not_to_have_text(old_code)
    expect(page.get_by_role("link", name="Class")).to_be_visible()
    return old_code, shown.inner_text()


def join(page, old_code: str, code: str, course_id: int) -> None:
    # A student makes no courses: no upload form, a "Join a course" box instead.
    expect(page.get_by_role("heading", name="Join a course")).to_be_visible()
    expect(page.locator("#upload-card")).to_be_hidden()
    expect(page.locator("#upload-form")).to_be_hidden()
    expect(page.locator("#courses-status")).to_contain_text("You have not joined a course yet")
    expect(page.locator("#course-list > li")).to_have_count(0)

    box = page.get_by_label("Join code")
    box.fill(old_code)  # replaced by the teacher: it no longer works
    page.get_by_role("button", name="Join", exact=True).click()
    expect(page.locator("#join-live")).to_have_text("No course has that code. Check it with your teacher.")
    expect(box).to_be_focused()

    box.fill(code.lower())  # codes are not case-sensitive
    page.get_by_role("button", name="Join", exact=True).click()
    expect(page.locator("#join-live")).to_have_text("You joined “Intro Biology”.")
    # Only the course joined is listed: the other teacher's "Genetics" is not.
    expect(page.locator("#course-list a")).to_have_text(["Intro Biology"])
    page.locator("#join-live").get_by_role("link", name="“Intro Biology”").click()
    expect(page.get_by_role("heading", name="Intro Biology", level=1)).to_be_visible()
    assert page.url.endswith(f"#/courses/{course_id}")
    # The join code and the class are the teacher's.
    expect(page.locator("#course-code")).to_be_hidden()
    expect(page.locator("#nav-class-item")).to_be_hidden()


def take_quiz(page) -> dict[str, bool]:
    """Three questions, answered; {question id: right?} as the student's page graded them."""
    page.get_by_role("button", name="Contents").click()  # phone width: the contents are behind a toggle
    questions = generate_quiz(page)
    for i in range(3):
        questions.nth(i).get_by_role("radio").nth(i % 4).check()
    page.get_by_role("button", name="Submit answers").click()
    expect(page.locator("#quiz-score")).to_have_text(re.compile(r"^[0-3] / 3$"))
    graded = {q.get_attribute("data-question"): "right" in q.get_attribute("class").split()
              for q in questions.all()}
    assert sum(graded.values()) == int(page.locator("#quiz-score").inner_text().split(" /")[0])
    return graded


def class_view(page, answers: dict[str, bool]) -> None:
    """The Class view: the student who joined, with the attempt's score and which questions were right."""
    page.locator("#course-list").get_by_role("link", name="Intro Biology").click()
    page.get_by_role("link", name="Class").click()
    expect(page.get_by_role("heading", name="Class", level=2)).to_be_focused()
    expect(page.locator("#class-status")).to_have_text("1 student, 1 quiz attempt.")
    students = page.locator("#student-list > li")
    expect(students).to_have_count(1)
    card = students.first
    expect(card.get_by_role("heading", name=STUDENT)).to_be_visible()
    rows = card.get_by_role("table", name=f"Quiz attempts of {STUDENT}").locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first.locator(".score-cell")).to_have_text(f"{sum(answers.values())} / 3")
    marks = rows.first.locator(".mark")
    expect(marks).to_have_count(3)
    seen = {m.get_attribute("data-question"): "right" in m.get_attribute("class").split() for m in marks.all()}
    assert seen == answers
    # Each mark reads as words too, not only a tick or a cross.
    expect(marks.first.locator(".visually-hidden")).to_have_text(re.compile(r"^Question 1: (right|wrong)$"))
    page.locator("#class-quizzes summary").first.click()
    expect(page.locator("#class-quizzes li")).to_have_count(3)  # the questions' wording


# ----------------------------------------------------------------------------- other origins

ATTACK = """<!doctype html>
<title>Another site</title>
<script>
// What a page of another origin would try against a signed-in ProfAI user.
const pdf = Uint8Array.from(atob("{pdf}"), (c) => c.charCodeAt(0));
function upload(mode) {{
  const form = new FormData();
  form.append("course_title", "Planted by " + location.origin);
  form.append("files", new Blob([pdf], {{ type: "application/pdf" }}), "planted.pdf");
  return fetch("{server}/api/upload-pdfs", {{ method: "POST", body: form, credentials: "include", mode }})
    .then((r) => "answered " + r.type + " " + r.status, (e) => "failed: " + e.name);
}}
function socket() {{
  return new Promise((resolve) => {{
    const events = [];
    const ws = new WebSocket("{server}".replace("http", "ws") + "/ws/chat");
    ws.onopen = () => {{ events.push("open"); ws.send(JSON.stringify({{ course_id: 1, question: "hi" }})); }};
    ws.onmessage = () => events.push("message");
    ws.onerror = () => events.push("error");
    ws.onclose = (e) => {{ events.push("close " + e.code); resolve(events); }};
  }});
}}
window.attack = Promise.all([upload("cors"), upload("no-cors"), socket()]);
</script>
"""


@pytest.fixture
def other_origin(server: str, tmp_path: Path) -> Iterator[int]:
    """A tiny web server on another loopback port serving the ATTACK page; its port."""
    page = ATTACK.format(server=server, pdf=base64.b64encode(make_pdf(tmp_path / "planted.pdf").read_bytes()).decode())

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = page.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def test_pages_of_other_origins_cannot_use_the_session(server: str, make_user, browser, other_origin: int,
                                                       tmp_path: Path):
    make_user(TEACHER, "teacher")
    app = new_page(browser)
    sign_in(app, server, TEACHER)
    before = server_state(server)
    refused_sockets = socket_refusals(tmp_path)

    # Same site, other origin (127.0.0.1 on another port): cookies ignore ports and SameSite=Lax
    # counts this as the same site, so the session cookie DOES go along (checked below). What stops
    # the upload is the server's Origin check: 403 cross_origin.
    same_site = attack(app, f"http://127.0.0.1:{other_origin}/")
    # Another site (localhost is not 127.0.0.1): SameSite=Lax keeps the cookie off the cross-site
    # POST, so the server sees no session at all: 401.
    cross_site = attack(app, f"http://localhost:{other_origin}/")

    for result, cookie, status in ((same_site, True, 403), (cross_site, False, 401)):
        cors, no_cors, socket_events = result["page"]
        # The page itself learns nothing: CORS hides the answer, no-cors gives an opaque one.
        assert cors == "failed: TypeError" and no_cors == "answered opaque 0", result
        # What went over the wire (seen through the browser's DevTools protocol): both uploads were
        # sent and refused, with the session cookie only from the same site.
        assert len(result["uploads"]) == 2, result
        for upload in result["uploads"]:
            assert upload["origin"] == result["origin"], upload
            assert upload["cookie"] == cookie, upload
            assert upload["status"] == status, upload
        # The WebSocket never opened: the server refused the handshake (403) before accepting it.
        assert "open" not in socket_events and socket_events[-1] == "close 1006", socket_events
    wait_until(lambda: socket_refusals(tmp_path) >= refused_sockets + 2, timeout=10,
               message="the server to log the refused WebSocket handshakes")
    # Nothing was created: no course, no job (asked with the admin key, which sees everything).
    assert server_state(server) == before

    # The control: from ProfAI's own page the very same requests work, so what refused them above
    # was their origin, not the requests themselves or a stale session.
    own = app.evaluate("""async () => {
        const socket = await new Promise((resolve) => {
            const ws = new WebSocket(`ws://${location.host}/ws/chat`);
            ws.onopen = () => { ws.close(); resolve("open"); };
            ws.onerror = () => resolve("error");
        });
        return { socket };
    }""")
    assert own == {"socket": "open"}
    control = app.evaluate("""async (b64) => {
        const form = new FormData();
        form.append("course_title", "Made here");
        const pdf = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        form.append("files", new Blob([pdf], { type: "application/pdf" }), "planted.pdf");
        const resp = await fetch("/api/upload-pdfs", { method: "POST", body: form });
        return resp.status;
    }""", base64.b64encode((tmp_path / "planted.pdf").read_bytes()).decode())
    assert control == 202
    assert server_state(server)["jobs"] == before["jobs"] + 1
    assert app.js_errors == []


def attack(app, url: str) -> dict:
    """Open the attacking page in the signed-in teacher's browser; what it saw, and what was sent."""
    page = app.context.new_page()
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    urls: dict[str, str] = {}
    sent: dict[str, dict] = {}
    status: dict[str, int] = {}
    cdp.on("Network.requestWillBeSent", lambda e: urls.__setitem__(e["requestId"], e["request"]["url"]))
    # The headers as sent, cookies included, and the status as received, even where CORS hides it.
    cdp.on("Network.requestWillBeSentExtraInfo",
           lambda e: sent.__setitem__(e["requestId"], {k.lower(): v for k, v in e["headers"].items()}))
    cdp.on("Network.responseReceivedExtraInfo", lambda e: status.__setitem__(e["requestId"], e["statusCode"]))
    page.goto(url)
    seen = page.evaluate("window.attack")
    uploads = []
    for rid, target in urls.items():
        if target.endswith("/api/upload-pdfs"):
            wait_until(lambda rid=rid: rid in status and rid in sent, timeout=10, message=f"request {rid} to finish")
            uploads.append({"origin": sent[rid].get("origin"), "status": status[rid],
                            "cookie": "profai_session=" in sent[rid].get("cookie", "")})
    page.close()
    return {"page": seen, "uploads": uploads, "origin": url.rstrip("/")}


def server_state(server: str) -> dict:
    """Every course and the number of jobs, as the admin key sees them."""
    courses = admin_http.get(f"{server}/api/courses").json()["courses"]
    jobs = admin_http.get(f"{server}/api/worker-stats").json()["jobs_by_state"]
    return {"courses": sorted(c["id"] for c in courses), "jobs": sum(jobs.values())}


def socket_refusals(tmp_path: Path) -> int:
    """How many WebSocket handshakes the server refused (uvicorn logs each: "WebSocket /ws/chat" 403)."""
    return (tmp_path / "server.log").read_text(errors="replace").count('"WebSocket /ws/chat" 403')
