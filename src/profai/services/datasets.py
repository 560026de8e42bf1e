"""CSV datasets: start an indexing task, report on it, retry its failed parts, search, delete."""

from __future__ import annotations

import logging
import math
import re
import uuid
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from profai.db import datasets_repo, jobs_repo
from profai.db.engine import session_scope
from profai.db.models import Dataset, Job
from profai.domain import Principal
from profai.errors import Conflict, InvalidInput, NotFound
from profai.ingest.csv_rows import CsvHeader, CsvSpec, validate_spec
from profai.jobs.cleanup import clean_up
from profai.jobs.dataset_job import KIND, Tally, tally
from profai.jobs.deps import JobDeps
from profai.pipelines.csv_to_vectors import (
    DATASET_ID,
    LINE,
    RESERVED_KEYS,
    ROW_ID,
    dataset_collection,
    remove_dataset,
)
from profai.services import access, jobs
from profai.services.deps import HasBlobs, HasEmbedder, HasRunner, HasSessions, HasSettings, HasVectors, submit
from profai.services.uploads import IncomingFile, StoredFile, csv_uploads, discard, receive
from profai.stores.vectors import build_where

log = logging.getLogger(__name__)


class DatasetsDeps(HasSettings, HasSessions, HasBlobs, HasVectors, HasEmbedder, HasRunner, Protocol):
    """What this service uses of the wiring."""


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


def vector_space(owner_id: int | None, namespace: str) -> str:
    """Each owner's namespaces are their own: two teachers may both use "shop". Datasets from
    before accounts (and the API_KEY admin's) keep the bare namespace."""
    return namespace if owner_id is None else f"u{owner_id}.{namespace}"


def start_dataset(
    ctx: DatasetsDeps, who: Principal, upload: IncomingFile | None, *, namespace: str | None,
    id_column: str | None,
    text_columns: tuple[str, ...] = (), text_template: str | None = None, metadata_columns: tuple[str, ...] = (),
) -> Job:
    """Stream the CSV to storage, check its header against the request, then queue the task. The
    upload judges the file as it is written (header, encoding, data lines, sha256), so it is never
    read again here."""
    s = ctx.settings
    files = [upload] if upload is not None else []
    stored: list[StoredFile] = []
    try:  # if any of it fails, nothing of the upload is kept
        jobs.check_quota(ctx, who)
        namespace = clean_namespace(namespace)
        id_column = (id_column or "").strip()
        if not id_column:
            raise InvalidInput("id_column is required", code="missing_id_column")
        spec = CsvSpec(id_column=id_column, text_columns=text_columns,
                       text_template=(text_template or "").strip() or None, metadata_columns=metadata_columns)
        stored = receive(ctx.blobs, csv_uploads(s, UPLOAD_PREFIX), files)
        blob, name = stored[0].blob, stored[0].name
        header: CsvHeader = blob.facts["header"]
        validate_spec(header, spec)
        dataset_id = str(uuid.uuid4())
        with session_scope(ctx.sessions) as session:
            datasets_repo.create(session, dataset_id, namespace=namespace, filename=name, blob_key=blob.key,
                                 size=blob.size, sha256=blob.facts["sha256"], spec=asdict(spec),
                                 owner_id=who.user_id)
            # The header carries data_lines too, so the job never counts the file's lines again.
            job = jobs_repo.create(
                session, KIND, {"dataset_id": dataset_id, "namespace": vector_space(who.user_id, namespace),
                                "blob_key": blob.key, "filename": name, "spec": asdict(spec),
                                "header": asdict(header)},
                job_id=dataset_id, max_attempts=s.max_attempts, owner_id=who.user_id)
    except BaseException:
        discard(ctx.blobs, files, stored)
        raise
    submit(ctx, [job.id])
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


def task_report(ctx: DatasetsDeps, who: Principal, task_id: str, *, errors_offset: int = 0,
                errors_limit: int = 100) -> TaskReport:
    with session_scope(ctx.sessions) as session:
        job = jobs_repo.get(session, task_id)
        dataset = datasets_repo.get(session, task_id)
        if job is None or dataset is None or not access.owns(who, dataset.owner_id):
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


def retry_task(ctx: DatasetsDeps, who: Principal, task_id: str) -> Job:
    """Run the failed parts again (or the whole task if it failed before splitting)."""
    with session_scope(ctx.sessions) as session:
        job = jobs_repo.get(session, task_id)
        if job is None or job.kind != KIND or not access.owns(who, job.owner_id):
            raise NotFound(f"Task {task_id} not found", code="task_not_found")
        again = jobs_repo.retry_failed_parts(session, task_id)
        if not again and job.status == jobs_repo.FAILED and not jobs_repo.part_counts(session, task_id):
            again = [task_id] if jobs_repo.requeue_failed(session, task_id) else []
        if not again:
            raise Conflict(f"Task {task_id} has no failed parts to retry (status {job.status})", code="nothing_to_retry")
    submit(ctx, again)
    with session_scope(ctx.sessions) as session:
        job = jobs_repo.get(session, task_id)
    if job is None:  # deleted meanwhile
        raise NotFound(f"Task {task_id} not found", code="task_not_found")
    return job


_OPERATORS = {"$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin"}
# Bounds that keep one query's filter cheap for the vector store.
MAX_FILTER_KEYS, MAX_IN_VALUES, MAX_FILTER_TEXT = 16, 100, 500


def check_filter(where: dict[str, Any] | None) -> None:
    """A metadata filter is {column: value} or {column: {"$op": value}}; refuse anything else here
    with a clear error rather than deep inside the vector store."""
    if where is None:
        return
    if not isinstance(where, dict):
        raise InvalidInput("filter must be an object of column: value", code="invalid_filter")
    if len(where) > MAX_FILTER_KEYS:
        raise InvalidInput(f"filter may name at most {MAX_FILTER_KEYS} columns", code="filter_too_large")
    for key, value in where.items():
        if isinstance(value, dict):
            ok = len(value) == 1 and all(
                op in _OPERATORS and (_scalar(v) if op not in ("$in", "$nin")
                                      else isinstance(v, list) and 0 < len(v) <= MAX_IN_VALUES
                                      and all(_scalar(x) for x in v))
                for op, v in value.items())
        else:
            ok = _scalar(value)
        if key.startswith("$") or len(key) > 64 or not ok:
            raise InvalidInput(f"filter on {key[:64]!r}: use a value, or one of {sorted(_OPERATORS)} with a value "
                               f"(a list of at most {MAX_IN_VALUES} for $in/$nin)", code="invalid_filter")


def _scalar(value: Any) -> bool:
    """A filter value: a short string, a 64-bit integer, a finite number or a boolean."""
    if isinstance(value, str):
        return len(value) <= MAX_FILTER_TEXT
    if isinstance(value, bool):
        return True
    if isinstance(value, int):
        return -(2**63) <= value < 2**63
    return isinstance(value, float) and math.isfinite(value)


def list_datasets(ctx: DatasetsDeps, who: Principal, namespace: str | None = None
                  ) -> list[tuple[Dataset, Job | None]]:
    """The caller's datasets; an admin's list has everyone's."""
    with session_scope(ctx.sessions) as session:
        return datasets_repo.list_datasets(session, namespace, everyone=who.is_admin, owner_id=who.user_id)


def delete_dataset(ctx: JobDeps, who: Principal, dataset_id: str) -> None:
    """Remove a dataset: its record and row errors now; its vectors, files and jobs now if
    nothing runs for it, else once its last worker lets go (see jobs.cleanup). Vectors or files
    that cannot be removed now (the vector store is down) are left for the reaper: the job's
    clean-up runs again until it finishes, and the orphan sweep removes those of a finished one."""
    with session_scope(ctx.sessions) as session:
        dataset = datasets_repo.get(session, dataset_id)
        if dataset is None or not access.owns(who, dataset.owner_id):
            raise NotFound(f"Dataset {dataset_id} not found", code="dataset_not_found")
        stopped = jobs_repo.cancel(session, dataset_id)
        datasets_repo.delete_dataset(session, dataset_id, with_jobs=not stopped)
    if stopped:
        clean_up(ctx, dataset_id)
        return
    try:  # it had finished: nothing writes for it
        remove_dataset(dataset_id, vector_space(dataset.owner_id, dataset.namespace), dataset.blob_key,
                       blobs=ctx.blobs, vectors=ctx.vectors)
    except Exception:  # the dataset is gone (committed); what it leaves, the orphan sweep removes
        log.warning("dataset %s deleted; its vectors or files are left for the orphan sweep", dataset_id,
                    exc_info=True)


def query(ctx: DatasetsDeps, who: Principal, namespace: str | None, text: str | None, top_k: int = 5,
          where: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The rows of one of the caller's namespaces nearest in meaning to the query text."""
    namespace = clean_namespace(namespace)
    text = (text or "").strip()
    if not text:
        raise InvalidInput("query must not be empty", code="empty_query")
    if len(text) > MAX_QUERY_CHARS:
        raise InvalidInput(f"query is longer than {MAX_QUERY_CHARS} characters", code="query_too_long")
    if not 1 <= top_k <= MAX_TOP_K:
        raise InvalidInput(f"top_k must be between 1 and {MAX_TOP_K}", code="invalid_top_k")
    check_filter(where)
    with session_scope(ctx.sessions) as session:
        if not datasets_repo.namespace_exists(session, namespace, who.user_id):
            raise NotFound(f"Namespace {namespace!r} not found", code="unknown_namespace")
    vector = ctx.embedder.embed([text])[0]
    hits = ctx.vectors.query(dataset_collection(vector_space(who.user_id, namespace)), vector, top_k=top_k, where=build_where(where))
    return [{"id": h.metadata.get(ROW_ID, h.id), "score": round(h.score, 4), "text": h.text,
             "line": h.metadata.get(LINE), "dataset_id": h.metadata.get(DATASET_ID),
             "metadata": {k: v for k, v in h.metadata.items() if k not in RESERVED_KEYS}}
            for h in hits]
