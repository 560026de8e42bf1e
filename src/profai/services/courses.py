"""Courses: start a course job from uploaded PDFs, read courses back."""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Protocol

from profai.db import accounts_repo, courses_repo, jobs_repo
from profai.db.engine import session_scope
from profai.db.models import Course, Job, User
from profai.domain import STUDENT, Principal
from profai.errors import Forbidden, InvalidInput, NotFound
from profai.jobs.course_job import KIND
from profai.pipelines.pdf_to_course import course_collection
from profai.services import access, jobs
from profai.services.deps import HasBlobs, HasRetriever, HasRunner, HasSessions, HasSettings, HasVectors, submit
from profai.services.uploads import IncomingFile, StoredFile, discard, pdf_uploads, receive
from profai.stores.page_images import page_images

log = logging.getLogger(__name__)


class CoursesDeps(HasSettings, HasSessions, HasBlobs, HasVectors, HasRetriever, HasRunner, Protocol):
    """What this service uses of the wiring."""


MAX_TITLE = 300


def clean_title(title: str | None, field: str = "course_title") -> str:
    """A course title with its runs of whitespace made one space; the same rules and codes for an
    upload's `course_title` and a rename's `title`."""
    if title is not None and len(title) > MAX_TITLE:  # as sent, before any space is taken out
        raise InvalidInput(f"{field} is longer than {MAX_TITLE} characters", code="course_title_too_long")
    title = " ".join((title or "").split())
    if not title:
        raise InvalidInput(f"{field} is required and must not be blank", code="missing_course_title")
    return title


def start_course_job(ctx: CoursesDeps, who: Principal, title: str | None, files: list[IncomingFile]) -> Job:
    """Save and check the PDFs, record a pending job, then hand its id to the runner. If any of it
    fails, nothing of the upload is kept."""
    s = ctx.settings
    stored: list[StoredFile] = []
    try:
        jobs.check_quota(ctx, who)
        title = clean_title(title)
        stored = receive(ctx.blobs, pdf_uploads(s), files)  # each PDF's facts: its page count
        saved = [{"key": f.blob.key, "filename": f.name, "size": f.blob.size, **f.blob.facts} for f in stored]
        with session_scope(ctx.sessions) as session:
            job = jobs_repo.create(session, KIND, {"course_title": title, "files": saved},
                                   max_attempts=s.max_attempts, owner_id=who.user_id)
    except BaseException:
        discard(ctx.blobs, files, stored)
        raise
    submit(ctx, [job.id])  # only after the commit, so a worker always finds the row
    return job


def wait_for_job(ctx: CoursesDeps, job_id: str, timeout: float, poll: float = 0.25) -> Job:
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


def get_course(ctx: CoursesDeps, who: Principal, course_id: int) -> Course:
    """The course with its modules and lessons, if `who` may read it."""
    with session_scope(ctx.sessions) as session:
        access.course_for(session, who, course_id)
        course = courses_repo.get(session, course_id)
    if course is None:  # deleted meanwhile
        raise NotFound(f"Course {course_id} not found", code="course_not_found")
    return course


def list_courses(ctx: CoursesDeps, who: Principal, limit: int = 100, offset: int = 0
                 ) -> tuple[list[tuple[Course, int, int]], int]:
    """The courses `who` may read, newest first, with module and lesson counts, and their number."""
    scope = access.listing_scope(who)
    with session_scope(ctx.sessions) as session:
        return (courses_repo.list_courses(session, limit=limit, offset=offset, **scope),
                courses_repo.count(session, **scope))


def delete_course(ctx: CoursesDeps, who: Principal, course_id: int) -> None:
    """Remove a course, its vectors and its source files (its teacher or an admin). A course still
    being indexed has its job cancelled too: its worker stops and cleans up what it wrote after.
    Vectors or files that cannot be removed now (the vector store is down) belong to no course
    any more, and the reaper's orphan sweep removes them later (jobs/sweep.py)."""
    with session_scope(ctx.sessions) as session:
        course = access.course_for(session, who, course_id, manage=True)
        job_id = course.job_id
        courses_repo.delete_course(session, course)
        job = jobs_repo.get(session, job_id) if job_id else None
        if job is not None:
            jobs_repo.cancel(session, job.id)  # a no-op once it finished
        keys = [f["key"] for f in (job.payload.get("files", []) if job else [])]
    if job_id:
        ctx.retriever.forget(course_collection(job_id))  # its cached keyword index too
    for key in keys:
        page_images(ctx.settings.data_dir).forget(key)  # local files: gone now, whatever the stores do
    try:
        if job_id:
            ctx.vectors.drop(course_collection(job_id))
        for key in keys:
            ctx.blobs.delete(key)
    except Exception:  # the course is gone (committed); what it leaves, the orphan sweep removes
        log.warning("course %s deleted; its vectors or files are left for the orphan sweep", course_id,
                    exc_info=True)


def rename_course(ctx: CoursesDeps, who: Principal, course_id: int, title: str | None) -> Course:
    """Give a course a new title (its teacher or an admin); the upload's title rules apply."""
    title = clean_title(title, "title")
    with session_scope(ctx.sessions) as session:
        course = access.course_for(session, who, course_id, manage=True)
        course.title = title
        return course


# --- the class ---------------------------------------------------------------------------------


def join(ctx: CoursesDeps, who: Principal, code: str | None) -> tuple[Course, bool]:
    """A student joins a course by its code; (course, whether they were new to it)."""
    if who.role != STUDENT or who.user_id is None:
        raise Forbidden("Only students join courses by code", code="students_only")
    code = "".join((code or "").split()).upper()
    with session_scope(ctx.sessions) as session:
        course = courses_repo.by_join_code(session, code) if code else None
        if course is None:
            raise NotFound("No course has this join code", code="unknown_join_code")
        return course, accounts_repo.enroll(session, course.id, who.user_id)


def new_join_code(ctx: CoursesDeps, who: Principal, course_id: int) -> str:
    """Replace the course's join code: the old one stops working; joined students stay."""
    with session_scope(ctx.sessions) as session:
        course = access.course_for(session, who, course_id, manage=True)
        course.join_code = courses_repo.new_join_code()
        return course.join_code


def students(ctx: CoursesDeps, who: Principal, course_id: int) -> list[tuple[User, datetime]]:
    with session_scope(ctx.sessions) as session:
        access.course_for(session, who, course_id, manage=True)
        return accounts_repo.students_of(session, course_id)
