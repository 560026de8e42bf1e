"""Courses: start a course job from uploaded PDFs, read courses back."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from profai.db import courses_repo, jobs_repo
from profai.db.engine import session_scope
from profai.db.models import Course, Job
from profai.errors import InvalidInput, NotFound
from profai.ingest.pdf import inspect_pdf
from profai.pipelines.pdf_to_course import KIND, course_collection
from profai.services.uploads import IncomingFile, discard, save_uploads

if TYPE_CHECKING:
    from profai.wiring import Container

MAX_TITLE = 300


def clean_title(title: str | None) -> str:
    title = " ".join((title or "").split())
    if not title:
        raise InvalidInput("course_title is required and must not be blank", code="missing_course_title")
    if len(title) > MAX_TITLE:
        raise InvalidInput(f"course_title is longer than {MAX_TITLE} characters", code="course_title_too_long")
    return title


def pdf_facts(path: Path) -> dict:
    """The check of an uploaded PDF: refuses one that is not a readable PDF, else its page count."""
    return {"pages": inspect_pdf(path)}


def start_course_job(ctx: Container, title: str | None, files: list[IncomingFile]) -> Job:
    """Save and check the PDFs, record a pending job, then hand its id to the runner. If any of it
    fails, nothing of the upload is kept."""
    s = ctx.settings
    saved: list[dict] = []
    try:
        title = clean_title(title)
        saved = save_uploads(
            ctx.blobs, files, prefix="pdfs", suffix=".pdf", max_bytes=s.max_upload_bytes, max_files=s.max_files,
            check=pdf_facts,
        )
        with session_scope(ctx.sessions) as session:
            job = jobs_repo.create(session, KIND, {"course_title": title, "files": saved},
                                   max_attempts=s.max_attempts)
    except BaseException:
        discard(ctx.blobs, files, [item["key"] for item in saved])
        raise
    ctx.runner.submit(job.id)  # only after the commit, so a worker always finds the row
    return job


def wait_for_job(ctx: Container, job_id: str, timeout: float, poll: float = 0.25) -> Job:
    """Poll a job until it finishes or `timeout` passes (the legacy blocking upload)."""
    deadline = time.monotonic() + timeout
    while True:
        with session_scope(ctx.sessions) as session:
            job = jobs_repo.get(session, job_id)
        if job is None:
            raise NotFound(f"Job {job_id} not found", code="job_not_found")
        if job.status in jobs_repo.FINISHED or time.monotonic() >= deadline:
            return job
        time.sleep(poll)


def get_course(ctx: Container, course_id: int) -> Course:
    with session_scope(ctx.sessions) as session:
        course = courses_repo.get(session, course_id)
    if course is None:
        raise NotFound(f"Course {course_id} not found", code="course_not_found")
    return course


def list_courses(ctx: Container, limit: int = 100, offset: int = 0) -> tuple[list[tuple[Course, int, int]], int]:
    with session_scope(ctx.sessions) as session:
        return courses_repo.list_courses(session, limit=limit, offset=offset), courses_repo.count(session)


def delete_course(ctx: Container, course_id: int) -> None:
    """Remove a course, its vectors and its source files."""
    with session_scope(ctx.sessions) as session:
        course = courses_repo.get(session, course_id)
        if course is None:
            raise NotFound(f"Course {course_id} not found", code="course_not_found")
        job_id = course.job_id
        courses_repo.delete_course(session, course)
        job = jobs_repo.get(session, job_id) if job_id else None
        keys = [f["key"] for f in (job.payload.get("files", []) if job else [])]
    if job_id:
        ctx.vectors.drop(course_collection(job_id))
        ctx.retriever.forget(course_collection(job_id))  # its cached keyword index too
    for key in keys:
        ctx.blobs.delete(key)
