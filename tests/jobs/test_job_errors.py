"""A job fails with a stable code and a message its owner can act on: naming the file as it was
uploaded, never a storage key, a server path or a library's exception text. PDFs are stored here
behind the upload check's back, as files queued before a check existed would be."""

from __future__ import annotations

import logging

import pytest

import hostile
from factories import make_pdf
from profai.db import courses_repo, jobs_repo
from profai.db.engine import session_scope
from profai.db.models import Job
from profai.jobs.execute import INTERNAL_ERROR, execute_job
from profai.jobs.registry import JobKind, register
from profai.wiring import Container, build_container
from support import job_row, make_settings


def _explode(job, deps):
    raise OSError(2, "No such file or directory", "/srv/profai/data/uploads/pdfs/3f2a.pdf")


register("explodes", JobKind(run=_explode, cleanup=lambda job_id, payload, deps: None))


@pytest.fixture
def ctx(tmp_path):
    c = build_container(make_settings(tmp_path / "data"), runner="none", compute_processes=0)
    yield c
    c.close()


def _course_job(ctx: Container, files: dict[str, bytes]) -> tuple[str, list[str]]:
    """A pending course job over `files` (display name -> bytes); its id and the blob keys."""
    saved = []
    for name, data in files.items():
        key = ctx.blobs.new_key("pdfs", ".pdf")
        path = ctx.blobs.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        saved.append({"key": key, "filename": name})
    with session_scope(ctx.sessions) as session:
        job = jobs_repo.create(session, "course", {"course_title": "Biology", "files": saved})
    return job.id, [f["key"] for f in saved]


def _run(ctx: Container, job_id: str) -> Job:
    execute_job(ctx, job_id, "test:1:a")
    job = job_row(ctx.sessions, job_id)
    assert job is not None
    return job


def _assert_names_only_the_upload(ctx: Container, job: Job, keys: list[str]) -> None:
    assert not any(key.split("/")[-1] in job.error for key in keys)  # no storage key
    assert str(ctx.blobs.root.parent) not in job.error  # no server path


@pytest.mark.parametrize("how", ["missing", "count"])
def test_a_damaged_page_tree_fails_the_job_as_corrupt(ctx, tmp_path, how):
    data = hostile.broken_tree(tmp_path / "x.pdf", how).read_bytes()
    job_id, keys = _course_job(ctx, {"Week 2 notes.pdf": data})
    job = _run(ctx, job_id)
    assert (job.status, job.error_code) == ("failed", "corrupt_pdf")
    assert job.error.startswith("Week 2 notes.pdf: Page 2 of the PDF cannot be read")
    _assert_names_only_the_upload(ctx, job, keys)
    assert list(ctx.blobs.root.rglob("*.pdf")) == []  # cleaned up


def test_a_text_bomb_fails_the_job_at_once(ctx, tmp_path):
    job_id, keys = _course_job(ctx, {"notes.pdf": hostile.text_bomb(tmp_path / "bomb.pdf").read_bytes()})
    job = _run(ctx, job_id)
    assert (job.status, job.error_code) == ("failed", "pdf_too_large")
    assert job.error.startswith("notes.pdf: The PDF is too large to read")
    _assert_names_only_the_upload(ctx, job, keys)


def test_a_bug_fails_the_job_with_a_plain_message_and_logs_the_details(ctx, caplog):
    with session_scope(ctx.sessions) as session:
        job_id = jobs_repo.create(session, "explodes", {}).id
    with caplog.at_level(logging.ERROR, logger="profai.jobs.execute"):
        job = _run(ctx, job_id)
    assert (job.status, job.error_code, job.error) == ("failed", "internal_error", INTERNAL_ERROR)
    assert "/srv/profai" not in job.error and "OSError" not in job.error
    [record] = [r for r in caplog.records if r.name == "profai.jobs.execute"]
    assert job_id in record.getMessage() and record.exc_info is not None
    assert "/srv/profai/data/uploads/pdfs/3f2a.pdf" in str(record.exc_info[1])


def test_the_same_pdf_twice_builds_one_course_from_one_copy(ctx, tmp_path):
    data = make_pdf(tmp_path / "bio.pdf").read_bytes()
    job_id, _ = _course_job(ctx, {"bio.pdf": data, "bio (1).pdf": data})
    job = _run(ctx, job_id)
    assert job.status == "completed", job.error
    assert job.result["pages"] == 3
    with session_scope(ctx.sessions) as session:
        course = courses_repo.by_job(session, job_id)
        assert course is not None
        assert [f["filename"] for f in course.source_files] == ["bio.pdf"]
