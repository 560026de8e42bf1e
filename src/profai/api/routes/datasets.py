"""CSV datasets: upload, task status, retry, semantic query, list and delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool

from profai.api.deps import CtxDep, Teacher
from profai.api.errors import responses
from profai.api.multipart import openapi_body, receive_upload
from profai.schemas.datasets import (
    DatasetList,
    DatasetOut,
    ErrorPage,
    PartCounts,
    QueryIn,
    QueryOut,
    TaskAccepted,
    TaskStatus,
)
from profai.services import datasets as dataset_service
from profai.services.uploads import csv_uploads

router = APIRouter(prefix="/api/v1", tags=["datasets"])
TaskId = Annotated[str, Path(max_length=64)]

def _task_url(task_id: str) -> str:
    return f"/api/v1/tasks/{task_id}"


UPLOAD_BODY = openapi_body("file", "The CSV file", {
    "namespace": "Name of the dataset's index (letters, digits, '.', '_' or '-')",
    "id_column": "Column with each row's unique id",
    "text_columns": "Columns to embed: repeat the field or separate with commas",
    "text_template": 'Or a template over the columns, e.g. "{title}: {description}"',
    "metadata_columns": "Columns kept as filterable metadata: repeat the field or separate with commas",
}, required=("file", "namespace", "id_column"))


@router.post("/datasets", status_code=202, response_model=TaskAccepted, openapi_extra=UPLOAD_BODY,
             responses=responses(408, 415, 422))
async def upload_dataset(request: Request, ctx: CtxDep, who: Teacher) -> TaskAccepted:
    """Start indexing a CSV file; answers at once with the task to poll."""
    rules = csv_uploads(ctx.settings, dataset_service.UPLOAD_PREFIX)
    form = await receive_upload(request, ctx.blobs, rules, file_field="file")
    job = await run_in_threadpool(
        dataset_service.start_dataset, ctx, who, form.files[0] if form.files else None, namespace=form.get("namespace"),
        id_column=form.get("id_column"), text_columns=dataset_service.column_list(form.get_all("text_columns")),
        text_template=form.get("text_template"),
        metadata_columns=dataset_service.column_list(form.get_all("metadata_columns")),
    )
    return TaskAccepted(task_id=job.id, dataset_id=job.id, status=job.status, status_url=_task_url(job.id),
                        message="CSV processing started")


@router.get("/tasks/{task_id}", response_model=TaskStatus)
def get_task(ctx: CtxDep, who: Teacher, task_id: TaskId, errors_offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
             errors_limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> TaskStatus:
    """Status, row counts, parts, and the rows that could not be indexed (paged, by line)."""
    r = dataset_service.task_report(ctx, who, task_id, errors_offset=errors_offset, errors_limit=errors_limit)
    job, t = r.job, r.tally
    return TaskStatus(
        task_id=job.id, dataset_id=r.dataset.id, namespace=r.dataset.namespace, filename=r.dataset.filename,
        status=job.status, progress=job.progress, message=job.message, total_rows=r.dataset.total_rows,
        processed_rows=t.embedded_rows + t.in_flight_rows, failed_rows=r.failed_rows,
        parts=PartCounts(total=t.parts, done=t.done, failed=t.failed, running=t.running, pending=t.pending),
        created_at=job.created_at, started_at=job.started_at, completed_at=job.completed_at,
        updated_at=job.updated_at, error=job.error, error_code=job.error_code,
        errors=ErrorPage(items=r.errors, offset=errors_offset, limit=errors_limit, total=r.errors_total),
        status_url=_task_url(job.id),
    )


@router.post("/tasks/{task_id}/retry", status_code=202, response_model=TaskAccepted, responses=responses(409))
def retry_task(ctx: CtxDep, who: Teacher, task_id: TaskId) -> TaskAccepted:
    """Run the failed parts of a task again; rows already indexed are not touched."""
    job = dataset_service.retry_task(ctx, who, task_id)
    return TaskAccepted(task_id=job.id, dataset_id=job.id, status=job.status, status_url=_task_url(job.id),
                        message="Retrying the failed parts")


@router.post("/query", response_model=QueryOut, responses=responses(404))
def query(ctx: CtxDep, who: Teacher, body: QueryIn) -> QueryOut:
    """Rows nearest in meaning to `query` in a namespace, best first, optionally filtered by metadata."""
    hits = dataset_service.query(ctx, who, body.namespace, body.query, body.top_k, body.filter)
    return QueryOut(namespace=body.namespace, query=body.query, results=hits)


@router.get("/datasets", response_model=DatasetList)
def list_datasets(ctx: CtxDep, who: Teacher, namespace: Annotated[str | None, Query(max_length=64)] = None
                  ) -> DatasetList:
    return DatasetList(datasets=[
        DatasetOut(dataset_id=d.id, task_id=d.id, namespace=d.namespace, filename=d.filename, size=d.size,
                   status=j.status if j else None, total_rows=d.total_rows, spec=d.spec, created_at=d.created_at)
        for d, j in dataset_service.list_datasets(ctx, who, namespace)
    ])


@router.delete("/datasets/{dataset_id}", status_code=204)
def delete_dataset(ctx: CtxDep, who: Teacher, dataset_id: TaskId) -> None:
    """Remove a dataset, its vectors and its files."""
    dataset_service.delete_dataset(ctx, who, dataset_id)
