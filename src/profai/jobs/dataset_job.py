"""The dataset job and its parts: the job splits the CSV (pipelines/csv_to_vectors.py), creates
one part job per part file and defers; each part embeds its rows; the part that finishes last
settles the dataset job: completed, partially_completed or failed."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from profai.db import datasets_repo, jobs_repo
from profai.db.engine import session_scope
from profai.db.models import Job
from profai.ingest.csv_rows import CsvHeader, CsvSpec, read_header
from profai.jobs.deps import JobDeps
from profai.jobs.handle import JobHandle
from profai.jobs.registry import DEFERRED, JobKind, register
from profai.pipelines.csv_to_vectors import embed_part, parts_prefix, remove_dataset, split_csv

KIND, PART_KIND = "dataset", "dataset_part"


def part_id(dataset_id: str, index: int) -> str:
    return str(uuid.uuid5(uuid.UUID(dataset_id), f"part-{index}"))


def split(job: JobHandle, deps: JobDeps) -> dict[str, Any]:
    p = job.payload
    dataset_id, path = p["dataset_id"], deps.blobs.path(p["blob_key"])
    spec = CsvSpec(**_tuples(p["spec"]))
    # The upload already sniffed the header; jobs queued before it was recorded sniff it again.
    header = CsvHeader(**_tuples(p["header"])) if "header" in p else read_header(path)
    with session_scope(deps.sessions) as session:
        datasets_repo.clear_errors(session, dataset_id)

    def save_errors(errors: list[dict[str, Any]]) -> None:
        with session_scope(deps.sessions) as session:
            datasets_repo.add_errors(session, dataset_id, errors)

    result = split_csv(path, spec, header, job, blobs=deps.blobs, prefix=parts_prefix(dataset_id),
                       chunk_size=deps.settings.chunk_size, on_errors=save_errors, filename=p["filename"])
    part_ids = [part_id(dataset_id, index) for index in range(len(result.parts))]
    with session_scope(deps.sessions) as session:
        job.confirm(session)
        datasets_repo.set_total_rows(session, dataset_id, result.rows + result.bad)
        for index, (part, job_id) in enumerate(zip(result.parts, part_ids, strict=True)):
            jobs_repo.create(session, PART_KIND, {"dataset_id": dataset_id, "namespace": p["namespace"], "index": index,
                                                  **part}, job_id=job_id, parent_id=job.id, owner_id=job.user_id,
                             max_attempts=deps.settings.max_attempts)
        jobs_repo.defer(session, job.id, job.owner,
                        f"Embedding {result.rows:,} rows in {len(result.parts)} parts")
    if deps.runner is not None:
        for job_id in part_ids:
            deps.runner.submit(job_id)
    return DEFERRED


def _tuples(fields: dict[str, Any]) -> dict[str, Any]:
    """A dataclass's fields back from JSON, where its tuples became lists."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()}


def cleanup_dataset(job_id: str, payload: dict[str, Any], deps: JobDeps) -> None:
    """A failed split removes its part files (the upload and the row errors stay to be seen); a
    cancelled dataset removes everything it wrote: vectors, part files and the upload."""
    with session_scope(deps.sessions) as session:
        job = jobs_repo.get(session, job_id)
    if job is None or job.status != jobs_repo.CANCELLED:
        deps.blobs.delete_prefix(parts_prefix(payload["dataset_id"]))
        return
    remove_dataset(payload["dataset_id"], payload["namespace"], payload.get("blob_key"), blobs=deps.blobs,
                   vectors=deps.vectors)
    with session_scope(deps.sessions) as session:
        if datasets_repo.get(session, job_id) is None:  # the dataset was deleted: its jobs go too
            datasets_repo.delete_dataset(session, job_id)


def run_part(job: JobHandle, deps: JobDeps) -> dict[str, Any]:
    p = job.payload
    with session_scope(deps.sessions) as session:
        datasets_repo.clear_errors(session, p["dataset_id"], parts=[p["index"]])
    result = embed_part(deps.blobs.path(p["key"]), p["namespace"], p["dataset_id"], job,
                        embedder=deps.passage_embedder, vectors=deps.vectors, batch_size=deps.settings.batch_size)
    if result.rejected:
        with session_scope(deps.sessions) as session:
            datasets_repo.add_errors(session, p["dataset_id"], result.rejected, part=p["index"])
    return result.summary()


def cleanup_part(job_id: str, payload: dict[str, Any], deps: JobDeps) -> None:
    """A failed part keeps its rows file so that a retry can run it again."""


# --- settling the dataset job from its parts ---------------------------------------------------


@dataclass
class Tally:
    """Where a dataset's parts stand; rows are counted from the parts' results and sizes."""

    parts: int = 0
    done: int = 0
    failed: int = 0
    running: int = 0
    pending: int = 0
    embedded_rows: int = 0
    failed_part_rows: int = 0
    in_flight_rows: int = 0
    first_error: str | None = None

    @property
    def finished(self) -> bool:
        return self.running == 0 and self.pending == 0


def tally(parts: list[Job]) -> Tally:
    t = Tally(parts=len(parts))
    for part in parts:
        rows = part.payload.get("rows", 0)
        if part.status == jobs_repo.COMPLETED:
            t.done += 1
            t.embedded_rows += (part.result or {}).get("embedded", rows)
        elif part.status in (jobs_repo.FAILED, jobs_repo.CANCELLED):
            t.failed += 1
            t.failed_part_rows += rows
            t.first_error = t.first_error or part.error
        elif part.status in jobs_repo.RUNNING:
            t.running += 1
            t.in_flight_rows += rows * part.progress // 100
        else:
            t.pending += 1
    return t


def settle(dataset_id: str, deps: JobDeps) -> None:
    with session_scope(deps.sessions) as session:
        parent = jobs_repo.get(session, dataset_id)
        if parent is None or parent.status != jobs_repo.PROCESSING_CHUNKS:
            return
        counts = jobs_repo.part_counts(session, dataset_id)
        parts, finished = sum(counts.values()), sum(n for status, n in counts.items() if status in jobs_repo.FINISHED)
        if finished < parts:
            jobs_repo.advance(session, dataset_id, 10 + 90 * finished // parts, f"{finished} of {parts} parts done")
            return
        t = tally(jobs_repo.parts(session, dataset_id))
        # Row errors hold the unreadable rows and those the embedding service refused.
        failed_rows = datasets_repo.count_errors(session, dataset_id) + t.failed_part_rows
        result = {"embedded_rows": t.embedded_rows, "failed_rows": failed_rows, "parts": t.parts,
                  "parts_failed": t.failed}
        if t.embedded_rows == 0:
            status, message = jobs_repo.FAILED, "Failed"
        elif failed_rows:
            status, message = jobs_repo.PARTIALLY_COMPLETED, f"Indexed {t.embedded_rows:,} rows; {failed_rows:,} failed"
        else:
            status, message = jobs_repo.COMPLETED, f"Indexed {t.embedded_rows:,} rows"
        error = code = None
        if t.failed:
            error, code = f"{t.failed} of {t.parts} parts failed: {t.first_error}", "parts_failed"
        elif failed_rows:
            error, code = f"{failed_rows:,} rows could not be indexed: see the row errors", "rows_failed"
        jobs_repo.settle(session, dataset_id, status, result=result, message=message, error=error, error_code=code)


register(KIND, JobKind(run=split, cleanup=cleanup_dataset, settle=settle))
register(PART_KIND, JobKind(run=run_part, cleanup=cleanup_part))
