"""Uploading PDFs and reading courses."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool

from profai.api.deps import CtxDep, Teacher, User
from profai.api.errors import responses
from profai.api.ids import MAX_ID, CourseId
from profai.api.multipart import openapi_body, receive_upload
from profai.domain import Principal
from profai.schemas.courses import CourseList, CourseOut, CourseSummary
from profai.schemas.jobs import JobAccepted, JobStatus, accepted
from profai.services import courses as course_service
from profai.services.access import manages
from profai.services.uploads import pdf_uploads

if TYPE_CHECKING:
    from profai.db.models import Job
    from profai.wiring import Container

router = APIRouter(prefix="/api", tags=["courses"])

UPLOAD_BODY = openapi_body("files", "One or more PDF files", {"course_title": "Title of the course to build"})


async def _start(request: Request, ctx: Container, who: Principal) -> Job:
    form = await receive_upload(request, ctx.blobs, pdf_uploads(ctx.settings), file_field="files")
    return await run_in_threadpool(course_service.start_course_job, ctx, who, form.get("course_title"), form.files)


@router.post("/upload-pdfs", status_code=202, response_model=JobAccepted, openapi_extra=UPLOAD_BODY,
             responses=responses(408, 415, 422))
async def upload_pdfs(request: Request, ctx: CtxDep, who: Teacher) -> JobAccepted:
    """Start building a course from PDFs; answers at once with the job to poll."""
    job = await _start(request, ctx, who)
    return accepted(job, f"/api/jobs/{job.id}", "PDF processing started")


@router.post("/upload-pdfs-sync", deprecated=True, response_model=JobStatus, openapi_extra=UPLOAD_BODY,
             responses=responses(404, 408, 415, 422))
async def upload_pdfs_sync(request: Request, ctx: CtxDep, who: Teacher) -> JobStatus:
    """Legacy: waits (at most SYNC_WAIT_SECONDS) for the course. Use /api/upload-pdfs instead."""
    job = await _start(request, ctx, who)
    job = await run_in_threadpool(course_service.wait_for_job, ctx, job.id, ctx.settings.sync_wait_seconds)
    return JobStatus.of(job)


@router.get("/courses", response_model=CourseList)
def list_courses(ctx: CtxDep, who: User, limit: Annotated[int, Query(ge=1, le=500)] = 100,
                 offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0) -> CourseList:
    """The courses you may read: a teacher's own, a student's joined, every course for admins."""
    rows, total = course_service.list_courses(ctx, who, limit, offset)
    return CourseList(
        courses=[CourseSummary(id=c.id, course_id=c.id, title=c.title, course_title=c.title, modules=m, lessons=n,
                               created_at=c.created_at, search_ready=c.indexed_at is not None)
                 for c, m, n in rows],
        total=total,
    )


@router.get("/courses/{course_id}", response_model=CourseOut)
def get_course(ctx: CtxDep, who: User, course_id: CourseId) -> CourseOut:
    course = course_service.get_course(ctx, who, course_id)
    return CourseOut.of(course, join_code=course.join_code if manages(who, course) else None)


@router.delete("/courses/{course_id}", status_code=204)
def delete_course(ctx: CtxDep, who: User, course_id: CourseId) -> None:
    course_service.delete_course(ctx, who, course_id)
