"""Helpers shared by tests (fixtures live in conftest.py)."""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any, TypeVar

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from profai.db import jobs_repo
from profai.db.engine import session_scope
from profai.db.models import Job
from profai.settings import Settings

R_MANUALS = Path("/usr/share/R/doc/manual")
TESTS_DIR = Path(__file__).resolve().parent
FINISHED = ("completed", "partially_completed", "failed", "cancelled")  # a job's final states
PASSWORD = "correct horse battery"  # every test account's; at least 8 characters
_accounts = itertools.count()
T = TypeVar("T")


def plugins_env(*modules: str) -> dict[str, str]:
    """Environment that has a server or worker process load these tests/ modules as PROFAI_PLUGINS."""
    return {"PROFAI_PLUGINS": ",".join(modules),
            "PYTHONPATH": os.pathsep.join([str(TESTS_DIR), os.environ.get("PYTHONPATH", "")])}


def wait_until(predicate: Callable[[], T], *, timeout: float = 60, interval: float = 0.05,
               message: str | Callable[[], str] = "the condition") -> T:
    """Call `predicate` until it returns something truthy, and return that; the one poll loop of the tests.

    At the deadline, fail naming what was awaited (`message`; a function is called then, for details
    known only at the end) and the predicate's last value.
    """
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() >= deadline:
            what = message() if callable(message) else message
            raise AssertionError(f"waited {timeout} s for {what}; last value: {value!r}")
        time.sleep(interval)
    return value


def record_sleeps(monkeypatch: pytest.MonkeyPatch, module: ModuleType, *, really: bool = False) -> list[float]:
    """The seconds `module` passes to time.sleep from now on; slept only if `really`, so a test can
    check a wait without taking it."""
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        if really:
            time.sleep(seconds)

    monkeypatch.setattr(module, "time", SimpleNamespace(**{**vars(time), "sleep": sleep}))
    return slept


def record_timeouts(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, float]]:
    """The httpx timeouts (connect, read, write, pool) of every request sent from now on."""
    sent: list[dict[str, float]] = []
    send = httpx.Client.send

    def spy(self, request, **kwargs):
        sent.append(request.extensions["timeout"])
        return send(self, request, **kwargs)

    monkeypatch.setattr(httpx.Client, "send", spy)
    return sent


def squash(text: str) -> str:
    """Text with every run of whitespace as one space, as sentences are compared."""
    return " ".join(text.split())


def starts_on(sentence: str, pages: dict[int, str], page: int) -> bool:
    """Whether `sentence` begins on `page` of squashed `pages`; it may run over onto the next."""
    at = (pages[page] + " " + pages.get(page + 1, "")).find(squash(sentence))
    return 0 <= at < len(pages[page])


# Tests act as the API_KEY admin unless they test accounts: a key every test server accepts.
TEST_ADMIN_KEY = "test-admin-key-not-a-secret"
ADMIN_HEADERS = {"X-API-Key": TEST_ADMIN_KEY}
TEST_HOSTS = "testserver,127.0.0.1,localhost,[::1]"  # TestClient's host name, and loopback
# Requests to test servers started as processes, as that admin.
admin_http = httpx.Client(headers=ADMIN_HEADERS, timeout=30)


def make_settings(data_dir: Path, **overrides) -> Settings:
    """Settings for a test: its own data dir, short leases, no .env file, the test admin key."""
    values = {"PROFAI_DATA_DIR": data_dir, "ENVIRONMENT": "test", "API_KEY": TEST_ADMIN_KEY,
              "ALLOWED_HOSTS": TEST_HOSTS, "RATE_LIMIT_PER_SECOND": 0, "JOB_LEASE_SECONDS": 6,
              "JOB_HEARTBEAT_SECONDS": 1, "REAPER_INTERVAL_SECONDS": 1, "MAX_WORKERS": 2}
    values.update(overrides)
    return Settings(_env_file=None, **values)


def wait_job(client: TestClient, job_id: str, timeout: float = 120, path: str = "/api/jobs/") -> dict:
    """Poll the status URL until the job finishes; checks that progress never goes down."""
    last = [{"progress": -1}]

    def finished() -> dict | None:
        resp = client.get(f"{path}{job_id}")
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["progress"] >= last[0]["progress"], "progress went down"
        last[0] = body
        return body if body["status"] in FINISHED else None

    return wait_until(finished, timeout=timeout, interval=0.1, message=lambda: f"job {job_id} to finish: {last[0]}")


R_INTRO_COURSE = "course-r-intro"  # the collection of the shared r_intro_store fixture


def r_intro_chapters(first: int = 14, last: int = 34):
    """Pages first..last of R-intro.pdf (chapters 2-5, vectors to matrices: ~65 passages)."""
    from profai.domain import PdfDocument
    from profai.ingest.pdf import read_pdf

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


def job_row(sessions: sessionmaker[Session], job_id: str) -> Job | None:
    """The job's row as it is now (detached), or None."""
    with session_scope(sessions) as session:
        return jobs_repo.get(session, job_id)


def user_with_key(ctx: Any, role: str) -> tuple[Any, str]:
    """A new account of `role` (an address of its own, password PASSWORD) and an API key for it."""
    from profai.domain import CLI
    from profai.services import accounts

    user = accounts.create_user(ctx, CLI, f"{role}{next(_accounts)}@school.example", PASSWORD, role)
    return user, accounts.create_key(ctx, accounts.principal_of(user, "key"), "test")[1]
