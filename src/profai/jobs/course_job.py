"""The course job: course first, then its index. It drafts the course from the uploaded PDFs and
saves it at once (in the transaction that confirms the job is still ours), so lessons, quizzes
and audio work while the passages are embedded for chat; the job completes when the index is
complete. The course row is keyed by the job id: a rerun after a crash or a lost lease keeps the
saved course (its id, and what students did with it) and finishes its index."""

from __future__ import annotations

import time
from typing import Any

from profai.db import courses_repo, jobs_repo
from profai.db.engine import session_scope
from profai.db.models import Course
from profai.jobs.deps import JobDeps
from profai.jobs.handle import JobHandle
from profai.jobs.registry import JobKind, register
from profai.pipelines.pdf_to_course import DraftedCourse, PdfFile, course_collection, draft_course, index_passages
from profai.pipelines.progress import Stage
from profai.stores.page_images import page_images

KIND = "course"
READING, INDEXING = "reading", "indexing"
READABLE_AT = 15  # the job's progress once the course can be read; indexing takes the rest


def run(job: JobHandle, deps: JobDeps) -> dict[str, Any]:
    title = job.payload["course_title"]
    files = [PdfFile(deps.blobs.path(f["key"]), f["filename"]) for f in job.payload["files"]]
    collection = course_collection(job.id)
    with session_scope(deps.sessions) as session:
        saved = courses_repo.by_job(session, job.id)
        counts = _counts(saved) if saved is not None else None
    drafted = draft_course(files, title, Stage(job, READING, 0, READABLE_AT), compute=deps.compute,
                           generate=saved is None)
    seconds = dict(drafted.seconds)
    if counts is None:
        counts = _save(job, deps, drafted, seconds)
    result = {**counts, "course_title": title, "passages": len(drafted.passages),
              "pages": sum(len(d.pages) for d in drafted.documents)}
    if drafted.duplicates:
        result["duplicates"] = drafted.duplicates
    if scanned := {d.filename: d.ocr_pages for d in drafted.documents if d.ocr_pages}:
        result["ocr_pages"] = scanned  # the pages of each file that were read by OCR
    with session_scope(deps.sessions) as session:
        job.confirm(session)
        jobs_repo.publish(session, job.id, job.owner, {**result, "search_ready": False, "seconds": seconds})
    seconds["embed"] = index_passages(drafted.passages, collection, Stage(job, INDEXING, READABLE_AT, 99),
                                      embedder=deps.passage_embedder, vectors=deps.vectors)
    with session_scope(deps.sessions) as session:
        job.confirm(session)
        courses_repo.mark_indexed(session, result["course_id"])
    seconds["searchable"] = round(time.monotonic() - job.started, 3)
    return {**result, "search_ready": True, "seconds": seconds}


def _save(job: JobHandle, deps: JobDeps, drafted: DraftedCourse, seconds: dict[str, float]) -> dict[str, Any]:
    """Save the drafted course, searchable once indexed; its id and counts for the job's result.
    Adds to `seconds` how long saving took and how soon after the start the course was readable."""
    draft = drafted.draft
    assert draft is not None
    job.progress(READABLE_AT, f"Saving the course ({len(draft.modules)} modules)")
    started = time.monotonic()
    sources = [{"filename": d.filename, "sha256": d.sha256, "pages": len(d.pages), "ocr_pages": d.ocr_pages,
                "page_labels": [p.label for p in d.pages] if any(p.label for p in d.pages) else []}
               for d in drafted.documents]
    with session_scope(deps.sessions) as session:
        job.confirm(session)
        course = courses_repo.replace_for_job(
            session, job_id=job.id, draft=draft, generator=deps.settings.generator,
            collection=course_collection(job.id), source_files=sources, owner_id=job.user_id,
        )
        course_id = course.id
    now = time.monotonic()
    seconds |= {"save": round(now - started, 3), "readable": round(now - job.started, 3)}
    return {"course_id": course_id, "modules": len(draft.modules), "lessons": sum(len(m.lessons) for m in draft.modules)}


def _counts(course: Course) -> dict[str, Any]:
    return {"course_id": course.id, "modules": len(course.modules),
            "lessons": sum(len(m.lessons) for m in course.modules)}


def cleanup(job_id: str, payload: dict[str, Any], deps: JobDeps) -> None:
    """No stray vectors, no partial course, no orphaned uploads."""
    deps.vectors.drop(course_collection(job_id))
    with session_scope(deps.sessions) as session:
        course = courses_repo.by_job(session, job_id)
        if course is not None:
            courses_repo.delete_course(session, course)
    for f in payload.get("files", []):
        deps.blobs.delete(f["key"])
        page_images(deps.settings.data_dir).forget(f["key"])  # pages a reader saw before the job failed


register(KIND, JobKind(run=run, cleanup=cleanup))
