"""CSV datasets: start an indexing task, report on it, retry its failed parts, search, delete."""

from __future__ import annotations

import re
import uuid
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from profai.db import datasets_repo, jobs_repo
from profai.db.engine import session_scope
from profai.db.models import Dataset, Job
from profai.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge
from profai.ingest.csv_rows import CsvSpec, read_header, validate_spec
from profai.pipelines.csv_to_vectors import (
    DATASET_ID,
    KIND,
    LINE,
    ROW_ID,
    Tally,
    dataset_collection,
    tally,
)
from profai.services.uploads import IncomingFile, discard, display_name, for_file, store
from profai.stores.blobs import file_sha256
from profai.stores.vectors import build_where

if TYPE_CHECKING:
    from profai.wiring import Container

NAMESPACE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MAX_QUERY_CHARS = 2000
MAX_TOP_K = 100

UPLOAD_PREFIX = "datasets/uploads"  # where uploaded CSV files are kept until their dataset is deleted


def clean_namespace(namespace: str | None) -> str:
    namespace = (namespace or "").strip()
    if not namespace:
        raise InvalidInput("namespace is required", code="missing_namespace")
    if not NAMESPACE.match(namespace):
        raise InvalidInput("namespace must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or "
                           "digit", code="invalid_namespace")
    return namespace


def column_list(values: list[str] | str | None) -> tuple[str, ...]:
    """Columns from repeated form fields and/or comma-separated values."""
    if values is None:
        return ()
    items = [values] if isinstance(values, str) else values
    return tuple(c.strip() for item in items for c in item.split(",") if c.strip())


def start_dataset(
    ctx: Container, upload: IncomingFile | None, *, namespace: str | None, id_column: str | None,
    text_columns: tuple[str, ...] = (), text_template: str | None = None, metadata_columns: tuple[str, ...] = (),
) -> Job:
    """Stream the CSV to storage, check its header against the request, then queue the task."""
    if upload is None:
        raise InvalidInput("No file was uploaded: send the CSV in the `file` field", code="no_files")
    s = ctx.settings
    name = display_name(upload.filename, "dataset.csv")
    key = None
    try:  # if any of it fails, nothing of the upload is kept
        namespace = clean_namespace(namespace)
        if not (id_column or "").strip():
            raise InvalidInput("id_column is required", code="missing_id_column")
        spec = CsvSpec(id_column=id_column.strip(), text_columns=text_columns,
                       text_template=(text_template or "").strip() or None, metadata_columns=metadata_columns)
        try:
            blob = store(ctx.blobs, upload, UPLOAD_PREFIX, ".csv", s.max_dataset_bytes)
        except PayloadTooLarge as exc:
            raise for_file(exc, name) from None
        key = blob.key
        header = read_header(ctx.blobs.path(key))
        validate_spec(header, spec)
        sha256 = file_sha256(ctx.blobs.path(key))
        dataset_id = str(uuid.uuid4())
        with session_scope(ctx.sessions) as session:
            datasets_repo.create(session, dataset_id, namespace=namespace, filename=name, blob_key=key,
                                 size=blob.size, sha256=sha256, spec=asdict(spec))
            job = jobs_repo.create(
                session, KIND, {"dataset_id": dataset_id, "namespace": namespace, "blob_key": key, "filename": name,
                                "spec": asdict(spec), "header": asdict(header)}, job_id=dataset_id,
                max_attempts=s.max_attempts)
    except BaseException:
        discard(ctx.blobs, [upload], [key] if key else [])
        raise
    ctx.runner.submit(job.id)
    return job


@dataclass
class TaskReport:
    job: Job
    dataset: Dataset
    tally: Tally
    errors: list[dict[str, Any]]
    row_errors: int  # rows refused while reading the file or by the embedding service

    @property
    def failed_rows(self) -> int:
        return self.row_errors + self.tally.failed_part_rows

    @property
    def errors_total(self) -> int:
        """Entries in the paged error list: one per row error, one per failed part."""
        return self.row_errors + self.tally.failed


def task_report(ctx: Container, task_id: str, *, errors_offset: int = 0, errors_limit: int = 100) -> TaskReport:
    with session_scope(ctx.sessions) as session:
        job = jobs_repo.get(session, task_id)
        dataset = datasets_repo.get(session, task_id)
        if job is None or dataset is None:
            raise NotFound(f"Task {task_id} not found", code="task_not_found")
        parts = jobs_repo.parts(session, task_id)
        t = tally(parts)
        total = datasets_repo.count_errors(session, task_id)
        errors = [{"line": e.line, "row_id": e.row_id, "code": e.code, "reason": e.reason}
                  for e in datasets_repo.page_errors(session, task_id, errors_offset, errors_limit)]
        # Rows of failed parts are reported as one range each, after the row-level errors.
        if errors_offset + len(errors) >= total:
            for part in parts:
                if part.status in (jobs_repo.FAILED, jobs_repo.CANCELLED) and len(errors) < errors_limit:
                    errors.append({"line": part.payload.get("first_line"), "last_line": part.payload.get("last_line"),
                                   "row_id": None, "code": "part_failed",
                                   "reason": f"{part.payload.get('rows', 0)} rows not indexed: {part.error}"})
    return TaskReport(job, dataset, t, errors, total)


def retry_task(ctx: Container, task_id: str) -> Job:
    """Run the failed parts again (or the whole task if it failed before splitting)."""
    with session_scope(ctx.sessions) as session:
        job = jobs_repo.get(session, task_id)
        if job is None or job.kind != KIND:
            raise NotFound(f"Task {task_id} not found", code="task_not_found")
        again = jobs_repo.retry_failed_parts(session, task_id)
        if not again and job.status == jobs_repo.FAILED and not jobs_repo.part_counts(session, task_id):
            again = [task_id] if jobs_repo.requeue_failed(session, task_id) else []
        if not again:
            raise Conflict(f"Task {task_id} has no failed parts to retry (status {job.status})", code="nothing_to_retry")
    for job_id in again:
        ctx.runner.submit(job_id)
    with session_scope(ctx.sessions) as session:
        return jobs_repo.get(session, task_id)


_OPERATORS = {"$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin"}
_SCALAR = (str, int, float, bool)


def check_filter(where: dict[str, Any] | None) -> None:
    """A metadata filter is {column: value} or {column: {"$op": value}}; refuse anything else here
    with a clear error rather than deep inside the vector store."""
    if where is None:
        return
    if not isinstance(where, dict):
        raise InvalidInput("filter must be an object of column: value", code="invalid_filter")
    for key, value in where.items():
        if isinstance(value, dict):
            ok = len(value) == 1 and all(
                op in _OPERATORS and (isinstance(v, _SCALAR) if op not in ("$in", "$nin")
                                      else isinstance(v, list) and v and all(isinstance(x, _SCALAR) for x in v))
                for op, v in value.items())
        else:
            ok = isinstance(value, _SCALAR)
        if key.startswith("$") or not ok:
            raise InvalidInput(f"filter on {key!r}: use a value, or one of {sorted(_OPERATORS)} with a value "
                               "(a list for $in/$nin)", code="invalid_filter")


def list_datasets(ctx: Container, namespace: str | None = None) -> list[tuple[Dataset, Job | None]]:
    with session_scope(ctx.sessions) as session:
        return datasets_repo.list_datasets(session, namespace)


def delete_dataset(ctx: Container, dataset_id: str) -> None:
    """Stop its task, then remove its vectors, files, row errors and jobs."""
    with session_scope(ctx.sessions) as session:
        dataset = datasets_repo.get(session, dataset_id)
        if dataset is None:
            raise NotFound(f"Dataset {dataset_id} not found", code="dataset_not_found")
        jobs_repo.cancel(session, dataset_id)
    ctx.vectors.delete(dataset_collection(dataset.namespace), where={DATASET_ID: dataset_id})
    ctx.blobs.delete_prefix(f"datasets/{dataset_id}")
    ctx.blobs.delete(dataset.blob_key)
    with session_scope(ctx.sessions) as session:
        datasets_repo.delete_dataset(session, dataset_id)


def query(ctx: Container, namespace: str | None, text: str | None, top_k: int = 5,
          where: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The rows of a namespace nearest in meaning to the query text."""
    namespace = clean_namespace(namespace)
    text = (text or "").strip()
    if not text:
        raise InvalidInput("query must not be empty", code="empty_query")
    if len(text) > MAX_QUERY_CHARS:
        raise InvalidInput(f"query is longer than {MAX_QUERY_CHARS} characters", code="query_too_long")
    if not 1 <= top_k <= MAX_TOP_K:
        raise InvalidInput(f"top_k must be between 1 and {MAX_TOP_K}", code="invalid_top_k")
    with session_scope(ctx.sessions) as session:
        if not datasets_repo.namespace_exists(session, namespace):
            raise NotFound(f"Namespace {namespace!r} not found", code="unknown_namespace")
    check_filter(where)
    vector = ctx.embedder.embed([text])[0]
    hits = ctx.vectors.query(dataset_collection(namespace), vector, top_k=top_k, where=build_where(where))
    return [{"id": h.metadata.get(ROW_ID, h.id), "score": round(h.score, 4), "text": h.text,
             "line": h.metadata.get(LINE), "dataset_id": h.metadata.get(DATASET_ID),
             "metadata": {k: v for k, v in h.metadata.items() if k not in (ROW_ID, DATASET_ID, LINE)}}
            for h in hits]
