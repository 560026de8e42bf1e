"""Job status, cancellation and worker statistics."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response

from profai.api.deps import Admin, CtxDep, User
from profai.api.errors import responses
from profai.schemas.jobs import JobStatus
from profai.services import jobs as job_service

router = APIRouter(prefix="/api", tags=["jobs"])
JobId = Annotated[str, Path(max_length=64)]


@router.get("/jobs/{job_id}", response_model=JobStatus)
async def get_job(ctx: CtxDep, who: User, job_id: JobId) -> Response:
    # One primary-key read: run it on the event loop rather than hop to a worker thread, which
    # under many pollers costs more than the query and queues them for pooled connections. The
    # body is serialised once here, not validated again against response_model.
    status = JobStatus.of(job_service.job_status(ctx, who, job_id))
    return Response(status.model_dump_json(), media_type="application/json")


@router.post("/jobs/{job_id}/cancel", response_model=JobStatus, responses=responses(409))
def cancel_job(ctx: CtxDep, who: User, job_id: JobId) -> JobStatus:
    return JobStatus.of(job_service.cancel_job(ctx, who, job_id))


# response_model=None: the stats go out as they are, not checked against the return annotation.
@router.get("/worker-stats", response_model=None)
def worker_stats(ctx: CtxDep, who: Admin) -> dict[str, Any]:
    return job_service.worker_stats(ctx)
