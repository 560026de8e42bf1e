"""Managing courses and jobs in a real browser (fixtures in conftest.py): two tabs of one teacher,
a PDF dropped on the form in the first and followed live in the second (its job, then its course,
with no reload); a dropped file that is not a PDF is refused before anything is sent; renaming
(Enter saves, Escape cancels, errors announced) and deleting (confirmed) show in both tabs; a
running job is cancelled from the jobs panel."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_kit import app_server, failure_report, sign_in

from factories import make_pdf
from support import R_MANUALS, admin_http, plugins_env, wait_until

sync_api = pytest.importorskip("playwright.sync_api", reason="needs playwright (pip install -e '.[dev]')")
expect = sync_api.expect

TEACHER = "manager@school.example"
TITLE = "Held biology"  # a course job of this title waits half indexed until tmp_path/gate exists


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """The UI's server (conftest.py), with tests/gate_plugins.py: the first tab's job is held half
    indexed, so the second tab sees it running however fast the machine is."""
    with app_server(tmp_path, {**plugins_env("gate_plugins"), "PROFAI_TEST_GATE": str(tmp_path / "gate")}) as url:
        yield url

# Drop files on the upload form as a person dragging them from their desktop would: the browser's
# DataTransfer carries File objects, built here from bytes sent by the test.
DROP = """([names, payloads]) => {
    const form = document.getElementById('upload-form');
    const dt = new DataTransfer();
    names.forEach((name, i) => {
        const bytes = Uint8Array.from(atob(payloads[i]), (c) => c.charCodeAt(0));
        dt.items.add(new File([bytes], name, { type: name.endsWith('.pdf') ? 'application/pdf' : 'text/plain' }));
    });
    form.dispatchEvent(new DragEvent('dragenter', { dataTransfer: dt, bubbles: true, cancelable: true }));
    const highlighted = form.classList.contains('drag-over');
    form.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
    form.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    return highlighted;
}"""


def drop(page, files: dict[str, bytes]) -> bool:
    """Drop `files` (name -> bytes) on the form; whether the form was highlighted while over it."""
    return page.evaluate(DROP, [list(files), [base64.b64encode(b).decode() for b in files.values()]])


def feed_connected(page) -> bool:
    return page.evaluate("import('/static/js/live.js').then((m) => m.live.connected)")


def test_two_tabs_follow_a_dropped_pdf_live_then_rename_and_delete(server: str, make_user, page, tmp_path: Path):
    make_user(TEACHER, "teacher")
    second = page.context.new_page()  # the same teacher's second tab (same cookies)
    second.js_errors = []
    second.on("pageerror", lambda exc: second.js_errors.append(str(exc)))
    uploads: list[str] = []
    page.on("request", lambda r: uploads.append(r.url) if r.url.endswith("/api/upload-pdfs") else None)
    try:
        sign_in(page, server, TEACHER)
        second.goto(server)
        expect(second.get_by_role("heading", name="Courses", exact=True)).to_be_visible()
        wait_until(lambda: feed_connected(page) and feed_connected(second), timeout=15, message="both tabs' feeds")
        second.evaluate("window.notReloaded = true")
        # Tab 2 notes every job row it is shown, with its progress.
        second.evaluate("""() => { window.jobRows = [];
            new MutationObserver(() => document.querySelectorAll('#job-list li').forEach((li) =>
                window.jobRows.push([li.querySelector('label').textContent, li.querySelector('progress').value])))
              .observe(document.getElementById('job-list'), { subtree: true, childList: true, attributes: true,
                                                              characterData: true }); }""")

        refused_drops(page, uploads)

        pdf = make_pdf(tmp_path / "biology.pdf").read_bytes()
        assert drop(page, {"biology.pdf": pdf}) is True, "the form was not highlighted under the dragged file"
        expect(page.locator("#upload-form-error")).to_be_hidden()
        assert page.evaluate("document.getElementById('course-files').files[0].name") == "biology.pdf"
        page.get_by_label("Title").fill(TITLE)
        page.get_by_role("button", name="Create course").click()
        expect(page.get_by_role("link", name=f"Open “{TITLE}”")).to_be_visible(timeout=90_000)
        assert len(uploads) == 1

        # Tab 2, untouched: the job shows up with its progress, and the course, while the job is
        # held half indexed; then the course is ready, all without a reload.
        wait_until(lambda: any(label == f"Course “{TITLE}”" for label, _ in second.evaluate("window.jobRows")),
                   timeout=30, message=lambda: f"the job in tab 2; rows seen: {second.evaluate('window.jobRows')}")
        expect(second.locator("#course-list .course-item", has_text=TITLE)).to_be_visible(timeout=30_000)
        (tmp_path / "gate").touch()
        expect(second.locator("#courses-live")).to_have_text(f"“{TITLE}” is ready.", timeout=60_000)
        expect(second.locator("#jobs-card")).to_be_hidden()
        assert second.evaluate("window.notReloaded") is True

        rename(second, page)
        page.set_viewport_size({"width": 360, "height": 740})  # the smallest phone: no sideways scroll
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        page.set_viewport_size({"width": 1280, "height": 900})
        delete(page, second)
    except Exception:
        failure_report(page, tmp_path)
        failure_report(second, tmp_path, "second-tab")
        raise
    assert page.js_errors == [] and second.js_errors == []


def refused_drops(page, uploads: list[str]) -> None:
    """Files that are not PDFs get a clear message, and nothing is sent."""
    assert drop(page, {"notes.txt": b"Photosynthesis notes"}) is True
    error = page.locator("#upload-form-error")
    expect(error).to_have_text("“notes.txt” is not a PDF: only PDF files can become a course.")
    expect(error).to_have_attribute("role", "alert")
    expect(page.locator("#course-files")).to_have_attribute("aria-invalid", "true")
    assert page.evaluate("document.getElementById('course-files').files.length") == 0
    drop(page, {"fake.pdf": b"<html>not a pdf</html>"})
    expect(error).to_have_text("“fake.pdf” is not a PDF (its content does not start like one).")
    # Chosen with the file picker instead: checked the same way when the form is sent.
    page.get_by_label("Title").fill("Notes")
    page.get_by_label("PDF files").set_input_files(files=[{"name": "notes.pdf", "mimeType": "application/pdf",
                                                           "buffer": b"just text"}])
    page.get_by_role("button", name="Create course").click()
    expect(error).to_have_text("“notes.pdf” is not a PDF (its content does not start like one).")
    expect(page.locator("#upload-job")).to_be_hidden()  # no "Building … 0%" beside the error
    assert uploads == []
    page.get_by_label("Title").fill("")


def rename(tab, other) -> None:
    """Inline: Escape cancels, a blank title is refused with its reason, Enter saves; both tabs show it."""
    live = tab.locator("#courses-live")
    tab.get_by_role("button", name=f"Rename “{TITLE}”").click()
    box = tab.get_by_label(f"New title for “{TITLE}”")
    expect(box).to_be_focused()
    box.fill("Something else")
    box.press("Escape")
    expect(live).to_have_text("Rename cancelled.")
    expect(tab.get_by_role("link", name=TITLE, exact=True)).to_be_visible()
    expect(tab.get_by_role("button", name=f"Rename “{TITLE}”")).to_be_focused()

    tab.get_by_role("button", name=f"Rename “{TITLE}”").click()
    box.fill("   ")
    box.press("Enter")
    expect(live).to_have_text("Could not rename: The title must not be blank.")
    expect(box).to_have_attribute("aria-invalid", "true")
    box.fill("Cell biology")
    box.press("Enter")
    expect(live).to_have_text("Renamed to “Cell biology”.")
    expect(tab.get_by_role("link", name="Cell biology", exact=True)).to_be_visible()
    expect(other.get_by_role("link", name="Cell biology", exact=True)).to_be_visible(timeout=15_000)


def delete(tab, other) -> None:
    """Asked first: "Keep it" keeps it, "Delete course" deletes it, in both tabs."""
    tab.get_by_role("button", name="Delete “Cell biology”").click()
    dialog = tab.get_by_role("dialog", name="Delete “Cell biology”?")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="Keep it")).to_be_focused()
    dialog.get_by_role("button", name="Keep it").click()
    expect(dialog).to_be_hidden()
    expect(tab.get_by_role("link", name="Cell biology", exact=True)).to_be_visible()

    tab.get_by_role("button", name="Delete “Cell biology”").click()
    dialog.get_by_role("button", name="Delete course").click()
    expect(tab.locator("#courses-live")).to_have_text("“Cell biology” was deleted.")
    expect(tab.locator("#course-list")).not_to_contain_text("Cell biology")
    expect(other.locator("#course-list")).not_to_contain_text("Cell biology", timeout=15_000)


def test_a_running_job_is_cancelled_from_the_jobs_panel(server: str, make_user, page, tmp_path: Path):
    make_user(TEACHER, "teacher")
    try:
        sign_in(page, server, TEACHER)
        page.get_by_label("Title").fill("Writing R Extensions")
        page.get_by_label("PDF files").set_input_files(R_MANUALS / "R-exts.pdf")
        page.get_by_role("button", name="Create course").click()
        row = page.locator("#job-list li", has_text="Writing R Extensions")
        expect(row).to_be_visible(timeout=30_000)
        job_id = row.get_attribute("data-job")
        expect(row.locator("progress")).to_have_attribute("value", re.compile(r"^\d+$"))

        row.get_by_role("button", name="Cancel Course “Writing R Extensions”").click()
        dialog = page.get_by_role("dialog", name="Cancel Course “Writing R Extensions”?")
        dialog.get_by_role("button", name="Keep it running").click()
        expect(row).to_be_visible()
        row.get_by_role("button", name="Cancel Course “Writing R Extensions”").click()
        dialog.get_by_role("button", name="Cancel the job").click()

        expect(row).to_be_hidden()
        expect(page.locator("#courses-live")).to_have_text("“Writing R Extensions” was cancelled.")
        # The tab that uploaded it shows the ending alone: no "Building … N%" beside it.
        expect(page.locator("#upload-error")).to_have_text("The job was cancelled.", timeout=15_000)
        expect(page.locator("#upload-progress")).to_be_hidden()
        expect(page.locator("#upload-job .job-head")).to_be_hidden()
        assert admin_http.get(f"{server}/api/jobs/{job_id}").json()["status"] == "cancelled"
        expect(page.locator("#course-list")).not_to_contain_text("Writing R Extensions")
    except Exception:
        failure_report(page, tmp_path)
        raise
    assert page.js_errors == []
