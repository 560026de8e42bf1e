"""Uploading PDFs and reading courses."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from profai.api.deps import CtxDep
from profai.api.multipart import openapi_body, receive_upload
from profai.errors import PayloadTooLarge
from profai.schemas.courses import CourseList, CourseOut, CourseSummary
from profai.schemas.jobs import JobAccepted, JobStatus, accepted
from profai.services import courses as course_service

router = APIRouter(prefix="/api", tags=["courses"])

UPLOAD_BODY = openapi_body("files", "One or more PDF files", {"course_title": "Title of the course to build"})


def _check_request_size(request: Request, ctx) -> None:
    # Refuse an obviously oversized body before reading it all.
    length = request.headers.get("content-length")
    limit = ctx.settings.max_upload_bytes * ctx.settings.max_files + 1024 * 1024
    if length and length.isdigit() and int(length) > limit:
        raise PayloadTooLarge(f"The upload is larger than {ctx.settings.max_files} files of "
                              f"{ctx.settings.max_upload_mb:g} MB", code="file_too_large")


async def _start(request: Request, ctx):
    _check_request_size(request, ctx)
    s = ctx.settings
    form = await receive_upload(request, ctx.blobs, file_field="files", prefix="pdfs", suffix=".pdf",
                                max_bytes=s.max_upload_bytes, max_files=s.max_files, check=course_service.pdf_facts)
    return await run_in_threadpool(course_service.start_course_job, ctx, form.get("course_title"), form.files)


@router.post("/upload-pdfs", status_code=202, response_model=JobAccepted, openapi_extra=UPLOAD_BODY)
async def upload_pdfs(request: Request, ctx: CtxDep):
    """Start building a course from PDFs; answers at once with the job to poll."""
    job = await _start(request, ctx)
    return accepted(job, f"/api/jobs/{job.id}", "PDF processing started")


@router.post("/upload-pdfs-sync", deprecated=True, response_model=JobStatus, openapi_extra=UPLOAD_BODY)
async def upload_pdfs_sync(request: Request, ctx: CtxDep):
    """Legacy: waits (at most SYNC_WAIT_SECONDS) for the course. Use /api/upload-pdfs instead."""
    job = await _start(request, ctx)
    job = await run_in_threadpool(course_service.wait_for_job, ctx, job.id, ctx.settings.sync_wait_seconds)
    return JobStatus.of(job)


@router.get("/courses", response_model=CourseList)
def list_courses(ctx: CtxDep, limit: int = 100, offset: int = 0):
    rows, total = course_service.list_courses(ctx, min(max(limit, 1), 500), max(offset, 0))
    return CourseList(
        courses=[CourseSummary(id=c.id, course_id=c.id, title=c.title, course_title=c.title, modules=m, lessons=n,
                               created_at=c.created_at) for c, m, n in rows],
        total=total,
    )


@router.get("/courses/{course_id}", response_model=CourseOut)
def get_course(ctx: CtxDep, course_id: int):
    return CourseOut.of(course_service.get_course(ctx, course_id))


@router.delete("/courses/{course_id}", status_code=204)
def delete_course(ctx: CtxDep, course_id: int):
    course_service.delete_course(ctx, course_id)
