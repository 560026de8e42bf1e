"""Helpers of the browser tests (the fixtures are in conftest.py): pages, signing in, failure reports."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx

from procs import kill_group, poll_job, start_server
from support import PASSWORD, admin_http

CHROMIUM = Path("/usr/bin/chromium")

SERVER_ENV = {"ENVIRONMENT": "test", "JOB_RUNNER": "local", "GENERATOR": "extractive", "EMBEDDER": "local",
              "SPEECH": "espeak", "MAX_WORKERS": "2", "COMPUTE_PROCESSES": "1"}


@contextlib.contextmanager
def app_server(work: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """A `profai serve` of its own in `work` (its data in work/data, its log work/server.log), with
    `env` added to its environment; its URL."""
    proc, url = start_server({"PROFAI_DATA_DIR": str(work / "data"), **SERVER_ENV, **(env or {})},
                             work / "server.log")
    try:
        yield url
    finally:
        kill_group(proc, signal.SIGTERM)


def make_account(server: str, email: str, role: str, password: str = PASSWORD) -> dict:
    """A new account, made with the test admin key."""
    resp = admin_http.post(f"{server}/api/users", json={"email": email, "password": password, "role": role})
    assert resp.status_code == 201, resp.text
    return resp.json()


def new_page(browser, width: int = 1280, height: int = 900):
    """A page in a browser context of its own (its own cookies: one signed-in person), collecting
    the page's uncaught JavaScript errors in page.js_errors."""
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.js_errors = []
    page.on("pageerror", lambda exc: page.js_errors.append(str(exc)))
    return page


def sign_in(page, server: str, email: str, password: str = PASSWORD) -> None:
    """Open the app and sign in with the form; done once the courses list shows."""
    from playwright.sync_api import expect

    page.goto(server)
    fill_sign_in(page, email, password)
    expect(page.get_by_role("heading", name="Courses", exact=True)).to_be_visible()


def fill_sign_in(page, email: str, password: str = PASSWORD) -> None:
    """Sign in with the form on screen; done once the header names who is signed in."""
    from playwright.sync_api import expect

    form = page.locator("#view-signin")
    expect(form.get_by_role("heading", name="Sign in")).to_be_visible()
    form.get_by_label("Email").fill(email)
    form.get_by_label("Password").fill(password)
    form.get_by_role("button", name="Sign in").click()
    expect(page.locator("#whoami-text")).to_contain_text(email)


def failure_report(page, tmp_path: Path, name: str = "failure") -> None:
    """What the browser showed, and what the server said, at the moment a test went wrong."""
    shot = tmp_path / f"{name}.png"
    page.screenshot(path=str(shot), full_page=True)
    log = (tmp_path / "server.log").read_text(errors="replace")[-3000:]
    print(f"screenshot: {shot}\nserver log (tail):\n{log}")


def generate_quiz(page, count: int = 3, difficulty: str | None = None):
    """Open the course's Quiz, generate `count` questions and return them (a locator, checked)."""
    from playwright.sync_api import expect

    page.get_by_role("link", name="Quiz").click()
    page.get_by_label("Questions").fill(str(count))
    if difficulty:
        page.get_by_label("Difficulty").select_option(difficulty)
    page.get_by_role("button", name="Generate quiz").click()
    page.wait_for_selector("#quiz-questions > li, #quiz-error:not([hidden])", timeout=60_000)
    expect(page.locator("#quiz-error")).to_be_hidden()
    questions = page.locator("#quiz-questions > li")
    expect(questions).to_have_count(count)
    return questions


@contextlib.contextmanager
def signed_in(server: str, email: str) -> Iterator[httpx.Client]:
    """An HTTP client signed in as `email` by cookie, as the browser is."""
    with httpx.Client(base_url=server, headers={"Origin": server}, timeout=30) as client:
        assert client.post("/api/auth/login", json={"email": email, "password": PASSWORD}).status_code == 200
        yield client


def build_course(server: str, email: str, pdfs: Path | Sequence[Path], title: str, timeout: float = 120) -> dict:
    """A course `email` built from `pdfs` (one upload, in this order) through the API; the course as
    its owner sees it (join code included)."""
    paths = [pdfs] if isinstance(pdfs, Path) else list(pdfs)
    with signed_in(server, email) as client, contextlib.ExitStack() as files:
        parts = [("files", (p.name, files.enter_context(p.open("rb")), "application/pdf")) for p in paths]
        accepted = client.post("/api/upload-pdfs", data={"course_title": title}, files=parts)
        assert accepted.status_code == 202, accepted.text
        job = poll_job(server, accepted.json()["job_id"], timeout=timeout)
        assert job["status"] == "completed", job
        return client.get(f"/api/courses/{job['result']['course_id']}").json()


def join_course(server: str, email: str, code: str) -> None:
    with signed_in(server, email) as client:
        assert client.post("/api/join", json={"code": code}).status_code == 200
