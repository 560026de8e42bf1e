"""Helpers shared by tests (fixtures live in conftest.py)."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient

from profai.settings import Settings

R_MANUALS = Path("/usr/share/R/doc/manual")


def squash(text: str) -> str:
    """Text with every run of whitespace as one space, as sentences are compared."""
    return " ".join(text.split())


def starts_on(sentence: str, pages: dict[int, str], page: int) -> bool:
    """Whether `sentence` begins on `page` of squashed `pages`; it may run over onto the next."""
    at = (pages[page] + " " + pages.get(page + 1, "")).find(squash(sentence))
    return 0 <= at < len(pages[page])


def make_settings(data_dir: Path, **overrides) -> Settings:
    """Settings for a test: its own data dir, short leases, no .env file."""
    values = {"PROFAI_DATA_DIR": data_dir, "ENVIRONMENT": "test", "JOB_LEASE_SECONDS": 6,
              "JOB_HEARTBEAT_SECONDS": 1, "REAPER_INTERVAL_SECONDS": 1, "MAX_WORKERS": 2}
    values.update(overrides)
    return Settings(_env_file=None, **values)


def wait_job(client: TestClient, job_id: str, timeout: float = 120) -> dict:
    """Poll the status URL until the job finishes; checks that progress never goes down."""
    deadline, last = time.monotonic() + timeout, -1
    while time.monotonic() < deadline:
        body = client.get(f"/api/jobs/{job_id}").json()
        assert body["progress"] >= last, "progress went down"
        last = body["progress"]
        if body["status"] in ("completed", "partially_completed", "failed", "cancelled"):
            return body
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish in {timeout} s: {body}")


R_INTRO_COURSE = "course-r-intro"  # the collection of the shared r_intro_store fixture


def r_intro_chapters(first: int = 14, last: int = 34):
    """Pages first..last of R-intro.pdf (chapters 2-5, vectors to matrices: ~65 passages)."""
    from profai.ingest.pdf import PdfDocument, read_pdf

    full = read_pdf(R_MANUALS / "R-intro.pdf", "R-intro.pdf")
    return PdfDocument(full.filename, full.sha256, [p for p in full.pages if first <= p.number <= last], [])


def upsert_chunks(store, collection: str, chunks, embedder) -> None:
    """Embed chunks and store them the way the course pipeline does."""
    store.upsert(
        collection, [c.id for c in chunks], embedder.embed([c.text for c in chunks]), [c.text for c in chunks],
        [c.metadata() for c in chunks],
    )


def upload_course(client: TestClient, pdf: Path, title: str) -> int:
    """Build a course through the API and return its id."""
    with pdf.open("rb") as f:
        job_id = client.post("/api/upload-pdfs", data={"course_title": title},
                             files={"files": (pdf.name, f, "application/pdf")}).json()["job_id"]
    return wait_job(client, job_id)["result"]["course_id"]
