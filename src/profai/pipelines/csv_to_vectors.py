"""CSV file -> vectors in its namespace, in parts that run in parallel and retry on their own.

The dataset job reads the file once (streaming), records every row it cannot take, writes the
good rows into part files of CHUNK_SIZE rows, then creates one part job per file and defers.
Each part embeds its rows in batches of BATCH_SIZE and upserts them under ids derived from the
namespace and row id, so reruns and re-uploads overwrite and never duplicate. The part that
finishes last settles the dataset job: completed, partially_completed or failed.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from profai.db import datasets_repo, jobs_repo
from profai.db.engine import session_scope
from profai.errors import JobFailed
from profai.ingest.csv_rows import CsvHeader, CsvSpec, Row, RowError, count_data_lines, read_header, read_rows
from profai.jobs.handle import JobHandle
from profai.jobs.registry import DEFERRED, Pipeline, register
from profai.pipelines.embedding import embed_batches
from profai.providers.embedder import batched
from profai.stores.vectors import collection_name

if TYPE_CHECKING:
    from profai.wiring import Container

KIND, PART_KIND = "dataset", "dataset_part"
ERROR_FLUSH = 1000
# Metadata keys ProfAI adds to every row; user columns keep their own names.
ROW_ID, DATASET_ID, LINE = "_row_id", "_dataset_id", "_line"


def dataset_collection(namespace: str) -> str:
    return collection_name("dataset", namespace)


def vector_id(namespace: str, row_id: str) -> str:
    """The same row id in the same namespace is always the same vector."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"profai:{namespace}:{row_id}").hex


def part_id(dataset_id: str, index: int) -> str:
    return str(uuid.uuid5(uuid.UUID(dataset_id), f"part-{index}"))


def _parts_prefix(dataset_id: str) -> str:
    return f"datasets/{dataset_id}/parts"


# --- the dataset job: read, check, split ----------------------------------------------------


def split(job: JobHandle, ctx: Container) -> dict[str, Any]:
    p = job.payload
    dataset_id, path = p["dataset_id"], ctx.blobs.path(p["blob_key"])
    spec = CsvSpec(**_tuples(p["spec"]))
    # The upload already sniffed the header (a full pass to judge the encoding); jobs queued
    # before it was recorded in the payload sniff it again.
    header = CsvHeader(**_tuples(p["header"])) if "header" in p else read_header(path)
    job.progress(1, f"Reading {p['filename']} ({header.encoding})")
    lines = max(1, count_data_lines(path))
    prefix = _parts_prefix(dataset_id)
    ctx.blobs.delete_prefix(prefix)  # a rerun of this step starts over
    with session_scope(ctx.sessions) as session:
        datasets_repo.clear_errors(session, dataset_id)

    writer = _PartWriter(ctx, prefix, ctx.settings.chunk_size)
    errors: list[dict[str, Any]] = []
    bad = 0
    for item in read_rows(path, spec, header, work_dir=ctx.blobs.path(prefix)):
        if isinstance(item, RowError):
            bad += 1
            errors.append({"line": item.line, "row_id": _clip(item.row_id), "code": item.code, "reason": item.reason})
            if len(errors) >= ERROR_FLUSH:
                _save_errors(ctx, dataset_id, errors)
        else:
            writer.add(item)
            if writer.rows % 20_000 == 0:
                job.progress(1 + 9 * min(1.0, item.line / lines), f"Read {writer.rows:,} rows")
    _save_errors(ctx, dataset_id, errors)
    writer.close()
    total = writer.rows + bad
    if not writer.parts:
        raise JobFailed(f"None of the {total} rows could be read: see the row errors", code="no_valid_rows")

    with session_scope(ctx.sessions) as session:
        job.confirm(session)
        datasets_repo.set_total_rows(session, dataset_id, total)
        part_ids = [part_id(dataset_id, index) for index in range(len(writer.parts))]
        for index, (part, job_id) in enumerate(zip(writer.parts, part_ids, strict=True)):
            jobs_repo.create(session, PART_KIND, {"dataset_id": dataset_id, "namespace": p["namespace"], "index": index,
                                                  **part}, job_id=job_id, parent_id=job.id)
        jobs_repo.defer(session, job.id, job.owner,
                        f"Embedding {writer.rows:,} rows in {len(writer.parts)} parts")
    for job_id in part_ids:
        ctx.runner.submit(job_id)
    return DEFERRED


def _tuples(fields: dict[str, Any]) -> dict[str, Any]:
    """A dataclass's fields back from JSON, where its tuples became lists."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()}


def _clip(text: str | None, limit: int = 300) -> str | None:
    return text if text is None or len(text) <= limit else text[: limit - 1] + "…"


def _save_errors(ctx: Container, dataset_id: str, errors: list[dict[str, Any]], part: int | None = None) -> None:
    if errors:
        with session_scope(ctx.sessions) as session:
            datasets_repo.add_errors(session, dataset_id, errors, part=part)
        errors.clear()


class _PartWriter:
    """Good rows into JSON-lines part files of `size` rows each; only one file is open at a time."""

    def __init__(self, ctx: Container, prefix: str, size: int):
        self.ctx, self.prefix, self.size = ctx, prefix, size
        self.parts: list[dict[str, Any]] = []
        self.rows = 0
        self._file = None

    def add(self, row: Row) -> None:
        if self._file is None or self.parts[-1]["rows"] >= self.size:
            self._open()
        self._file.write(json.dumps({"line": row.line, "id": row.id, "text": row.text, "metadata": row.metadata},
                                    ensure_ascii=False) + "\n")
        part = self.parts[-1]
        part["rows"] += 1
        part["last_line"] = row.line
        part.setdefault("first_line", row.line)
        self.rows += 1

    def _open(self) -> None:
        self.close()
        key = f"{self.prefix}/{len(self.parts):06d}.jsonl"
        path = self.ctx.blobs.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("w", encoding="utf-8")
        self.parts.append({"key": key, "rows": 0})

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def cleanup_split(job_id: str, payload: dict[str, Any], ctx: Container) -> None:
    """The dataset job failed: its part files go; the upload and the row errors stay to be seen."""
    ctx.blobs.delete_prefix(_parts_prefix(payload["dataset_id"]))


# --- a part: embed and upsert its rows -------------------------------------------------------


def embed_part(job: JobHandle, ctx: Container) -> dict[str, Any]:
    p = job.payload
    path = ctx.blobs.path(p["key"])
    with path.open(encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    collection = dataset_collection(p["namespace"])
    with session_scope(ctx.sessions) as session:
        datasets_repo.clear_errors(session, p["dataset_id"], parts=[p["index"]])
    batches = list(batched(rows, ctx.settings.batch_size))
    done, rejected = 0, []
    job.progress(1, f"Embedding {len(rows)} rows")
    vectors_iter = embed_batches(ctx, [[r["text"] for r in b] for b in batches], job.deadline, keep_refused=True)
    for batch, vectors in zip(batches, vectors_iter, strict=True):
        job.check()
        kept = [(r, v) for r, v in zip(batch, vectors) if v is not None]
        rejected += [r for r, v in zip(batch, vectors) if v is None]
        if kept:
            ctx.vectors.upsert(
                collection, [vector_id(p["namespace"], r["id"]) for r, _ in kept], [v for _, v in kept],
                [r["text"] for r, _ in kept],
                [{**r["metadata"], ROW_ID: r["id"], DATASET_ID: p["dataset_id"], LINE: r["line"]} for r, _ in kept],
            )
        done += len(batch)
        job.progress(100 * done / max(1, len(rows)), f"Embedded {done} of {len(rows)} rows")
    if rejected:
        _save_errors(ctx, p["dataset_id"], [
            {"line": r["line"], "row_id": _clip(r["id"]), "code": "embedding_rejected",
             "reason": "the embedding service rejected this row's text"} for r in rejected], part=p["index"])
    return {"rows": len(rows), "embedded": len(rows) - len(rejected), "rejected": len(rejected)}


def cleanup_part(job_id: str, payload: dict[str, Any], ctx: Container) -> None:
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


def tally(parts: list) -> Tally:
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


def settle(dataset_id: str, ctx: Container) -> None:
    with session_scope(ctx.sessions) as session:
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


register(KIND, Pipeline(run=split, cleanup=cleanup_split, settle=settle))
register(PART_KIND, Pipeline(run=embed_part, cleanup=cleanup_part))
