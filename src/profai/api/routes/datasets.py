"""CSV datasets: upload, task status, retry, semantic query, list and delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.concurrency import run_in_threadpool

from profai.api.deps import CtxDep
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
from profai.services.uploads import IncomingFile

router = APIRouter(prefix="/api/v1", tags=["datasets"])

Columns = Annotated[list[str] | None, Form(description="Column names: repeat the field or separate with commas")]


def _task_url(task_id: str) -> str:
    return f"/api/v1/tasks/{task_id}"


@router.post("/datasets", status_code=202, response_model=TaskAccepted)
async def upload_dataset(
    ctx: CtxDep,
    file: Annotated[UploadFile | None, File(description="The CSV file")] = None,
    namespace: Annotated[str | None, Form()] = None,
    id_column: Annotated[str | None, Form(description="Column with each row's unique id")] = None,
    text_columns: Columns = None,
    text_template: Annotated[str | None, Form(description='e.g. "{title}: {description}"')] = None,
    metadata_columns: Columns = None,
):
    """Start indexing a CSV file; answers at once with the task to poll."""
    upload = IncomingFile(file.filename, file.file) if file is not None else None
    try:
        job = await run_in_threadpool(
            dataset_service.start_dataset, ctx, upload, namespace=namespace, id_column=id_column,
            text_columns=dataset_service.column_list(text_columns), text_template=text_template,
            metadata_columns=dataset_service.column_list(metadata_columns),
        )
    finally:
        if file is not None:
            await file.close()
    return TaskAccepted(task_id=job.id, dataset_id=job.id, status=job.status, status_url=_task_url(job.id),
                        message="CSV processing started")


@router.get("/tasks/{task_id}", response_model=TaskStatus)
def get_task(ctx: CtxDep, task_id: str, errors_offset: Annotated[int, Query(ge=0)] = 0,
             errors_limit: Annotated[int, Query(ge=1, le=1000)] = 100):
    """Status, row counts, parts, and the rows that could not be indexed (paged, by line)."""
    r = dataset_service.task_report(ctx, task_id, errors_offset=errors_offset, errors_limit=errors_limit)
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


@router.post("/tasks/{task_id}/retry", status_code=202, response_model=TaskAccepted)
def retry_task(ctx: CtxDep, task_id: str):
    """Run the failed parts of a task again; rows already indexed are not touched."""
    job = dataset_service.retry_task(ctx, task_id)
    return TaskAccepted(task_id=job.id, dataset_id=job.id, status=job.status, status_url=_task_url(job.id),
                        message="Retrying the failed parts")


@router.post("/query", response_model=QueryOut)
def query(ctx: CtxDep, body: QueryIn):
    """Rows nearest in meaning to `query` in a namespace, best first, optionally filtered by metadata."""
    hits = dataset_service.query(ctx, body.namespace, body.query, body.top_k, body.filter)
    return QueryOut(namespace=body.namespace, query=body.query, results=hits)


@router.get("/datasets", response_model=DatasetList)
def list_datasets(ctx: CtxDep, namespace: str | None = None):
    return DatasetList(datasets=[
        DatasetOut(dataset_id=d.id, task_id=d.id, namespace=d.namespace, filename=d.filename, size=d.size,
                   status=j.status if j else None, total_rows=d.total_rows, spec=d.spec, created_at=d.created_at)
        for d, j in dataset_service.list_datasets(ctx, namespace)
    ])


@router.delete("/datasets/{dataset_id}", status_code=204)
def delete_dataset(ctx: CtxDep, dataset_id: str):
    """Remove a dataset, its vectors and its files."""
    dataset_service.delete_dataset(ctx, dataset_id)
