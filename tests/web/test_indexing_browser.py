"""Course first in a real browser (fixtures in conftest.py): a course whose passages are not yet
indexed opens and reads at once, its chat says it is being indexed and waits, and the page lets
the reader ask as soon as the index is complete, without a reload."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from browser_kit import failure_report, sign_in

from factories import make_pdf
from support import admin_http, wait_until

ADMIN = "dean@school.test"


def _set_indexed(data_dir: Path, course_id: int, indexed: bool) -> None:
    """Stand for the job between its two steps: the course saved, its index not complete."""
    with sqlite3.connect(data_dir / "profai.sqlite3") as db:
        db.execute("UPDATE courses SET indexed_at = CASE WHEN ? THEN created_at END WHERE id = ?",
                   (indexed, course_id))


def test_a_course_reads_while_it_is_indexed_and_chat_opens_when_the_index_is_in(server: str, make_user, page,
                                                                                  tmp_path: Path):
    from playwright.sync_api import expect

    make_user(ADMIN, "admin")
    with make_pdf(tmp_path / "biology.pdf").open("rb") as f:
        job_id = admin_http.post(f"{server}/api/upload-pdfs", data={"course_title": "Biology"},
                                 files={"files": ("biology.pdf", f, "application/pdf")}).json()["job_id"]
    job = wait_until(lambda: (j := admin_http.get(f"{server}/api/jobs/{job_id}").json())["status"] == "completed"
                     and j, timeout=120, message="the course to be built")
    course_id = job["result"]["course_id"]
    _set_indexed(tmp_path / "data", course_id, False)
    try:
        sign_in(page, server, ADMIN)
        expect(page.locator(".course-item")).to_contain_text("indexing for chat")
        page.goto(f"{server}/#/courses/{course_id}")
        expect(page.locator("#lesson-panel")).to_contain_text("chlorophyll")
        page.get_by_role("link", name="Ask the course").click()
        expect(page.locator("#chat-indexing")).to_be_visible()
        expect(page.get_by_role("button", name="Ask", exact=True)).to_be_disabled()

        _set_indexed(tmp_path / "data", course_id, True)
        expect(page.locator("#chat-indexing")).to_be_hidden(timeout=15_000)
        page.get_by_label("Your question").fill("What does chlorophyll absorb?")
        page.get_by_role("button", name="Ask", exact=True).click()
        expect(page.locator(".msg-bot").last).to_contain_text("light", timeout=60_000)
    except Exception:
        failure_report(page, tmp_path)
        raise
    assert page.js_errors == []
