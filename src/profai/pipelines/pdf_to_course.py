"""PDFs -> course: extract, chunk, embed into the course's vector collection, generate, save.

Reruns are safe: chunk ids derive from content and position (vectors are upserted), and the
course row is keyed by the job id (a rerun replaces it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from profai.db import courses_repo
from profai.db.engine import session_scope
from profai.errors import ProfAIError
from profai.ingest.chunking import Chunk
from profai.jobs.handle import JobHandle, StepClock
from profai.jobs.registry import Pipeline, register
from profai.pipelines import heavy
from profai.pipelines.embedding import embed_batches
from profai.providers.embedder import batched
from profai.stores.vectors import collection_name

if TYPE_CHECKING:
    from profai.wiring import Container

KIND = "course"
EMBED_BATCH = 32


def course_collection(job_id: str) -> str:
    return collection_name("course", job_id)


def run(job: JobHandle, ctx: Container) -> dict[str, Any]:
    clock = StepClock()
    files = job.payload["files"]
    title = job.payload["course_title"]
    job.progress(1, f"Extracting text from {len(files)} PDF file(s)")
    docs, chunks = [], []
    results = ctx.compute.imap(heavy.extract_pdf, [(str(ctx.blobs.path(f["key"])), f["filename"]) for f in files])
    for n, f in enumerate(files):
        try:
            doc, passages = next(results)
        except ProfAIError as exc:
            raise type(exc)(f"{f['filename']}: {exc.message}", code=exc.code) from None
        docs.append(doc)
        chunks += passages
        job.progress(1 + 14 * (n + 1) / len(files), f"Extracted {doc.filename} ({len(doc.pages)} pages)")

    clock.lap("extract")  # and chunk
    job.progress(16, f"Chunked into {len(chunks)} passages")
    _embed_chunks(job, ctx, chunks)
    clock.lap("embed")

    job.progress(82, "Generating modules, lessons, summaries and key terms")
    draft = ctx.compute.call(heavy.build_course, title, docs)
    clock.lap("generate")
    job.progress(95, f"Saving the course ({len(draft.modules)} modules)")
    job.check()
    sources = [{"filename": d.filename, "sha256": d.sha256, "pages": len(d.pages)} for d in docs]
    with session_scope(ctx.sessions) as session:
        job.confirm(session)
        course = courses_repo.replace_for_job(
            session, job_id=job.id, draft=draft, generator=ctx.settings.generator,
            collection=course_collection(job.id), source_files=sources,
        )
        course_id = course.id
    clock.lap("save")
    return {"course_id": course_id, "course_title": title, "modules": len(draft.modules),
            "lessons": sum(len(m.lessons) for m in draft.modules), "passages": len(chunks),
            "pages": sum(len(d.pages) for d in docs), "seconds": clock.laps}


def _embed_chunks(job: JobHandle, ctx: Container, chunks: list[Chunk]) -> None:
    """Embed in batches spread over the compute processes; upsert each as it arrives."""
    collection = course_collection(job.id)
    batches = list(batched(chunks, EMBED_BATCH))
    done = 0
    vectors_iter = embed_batches(ctx, [[c.text for c in b] for b in batches])
    for batch, vectors in zip(batches, vectors_iter, strict=True):
        ctx.vectors.upsert(
            collection, [c.id for c in batch], vectors, [c.text for c in batch], [c.metadata() for c in batch],
        )
        done += len(batch)
        job.progress(16 + 64 * done / max(1, len(chunks)), f"Embedded {done} of {len(chunks)} passages")


def cleanup(job_id: str, payload: dict[str, Any], ctx: Container) -> None:
    """After a final failure: no stray vectors, no partial course, no orphaned uploads."""
    ctx.vectors.drop(course_collection(job_id))
    with session_scope(ctx.sessions) as session:
        course = courses_repo.by_job(session, job_id)
        if course is not None:
            courses_repo.delete_course(session, course)
    for f in payload.get("files", []):
        ctx.blobs.delete(f["key"])


register(KIND, Pipeline(run=run, cleanup=cleanup))
