"""The course job: runs pdf_to_course on the uploaded PDFs and saves the course in the same
transaction that confirms the job is still ours. The course row is keyed by the job id, so a
rerun replaces it."""

from __future__ import annotations

import time
from typing import Any

from profai.db import courses_repo
from profai.db.engine import session_scope
from profai.jobs.deps import JobDeps
from profai.jobs.handle import JobHandle
from profai.jobs.registry import JobKind, register
from profai.pipelines.pdf_to_course import PdfFile, build_course, course_collection

KIND = "course"


def run(job: JobHandle, deps: JobDeps) -> dict[str, Any]:
    title = job.payload["course_title"]
    files = [PdfFile(deps.blobs.path(f["key"]), f["filename"]) for f in job.payload["files"]]
    built = build_course(files, title, course_collection(job.id), job, compute=deps.compute,
                         embedder=deps.passage_embedder, vectors=deps.vectors)
    draft = built.draft
    job.progress(95, f"Saving the course ({len(draft.modules)} modules)")
    started = time.monotonic()
    sources = [{"filename": d.filename, "sha256": d.sha256, "pages": len(d.pages)} for d in built.documents]
    with session_scope(deps.sessions) as session:
        job.confirm(session)
        course = courses_repo.replace_for_job(
            session, job_id=job.id, draft=draft, generator=deps.settings.generator,
            collection=course_collection(job.id), source_files=sources, owner_id=job.user_id,
        )
        course_id = course.id
    seconds = {**built.seconds, "save": round(time.monotonic() - started, 3)}
    return {"course_id": course_id, "course_title": title, "modules": len(draft.modules),
            "lessons": sum(len(m.lessons) for m in draft.modules), "passages": built.passages,
            "pages": sum(len(d.pages) for d in built.documents), "seconds": seconds}


def cleanup(job_id: str, payload: dict[str, Any], deps: JobDeps) -> None:
    """No stray vectors, no partial course, no orphaned uploads."""
    deps.vectors.drop(course_collection(job_id))
    with session_scope(deps.sessions) as session:
        course = courses_repo.by_job(session, job_id)
        if course is not None:
            courses_repo.delete_course(session, course)
    for f in payload.get("files", []):
        deps.blobs.delete(f["key"])


register(KIND, JobKind(run=run, cleanup=cleanup))
