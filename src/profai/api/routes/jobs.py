"""Job status, cancellation and worker statistics."""

from __future__ import annotations

from fastapi import APIRouter, Response

from profai.api.deps import CtxDep
from profai.schemas.jobs import JobStatus
from profai.services import jobs as job_service

router = APIRouter(prefix="/api", tags=["jobs"])


@router.get("/jobs/{job_id}", response_model=JobStatus)
async def get_job(ctx: CtxDep, job_id: str):
    # One primary-key read: run it on the event loop rather than hop to a worker thread, which
    # under many pollers costs more than the query and queues them for pooled connections. The
    # body is serialised once here, not validated again against response_model.
    status = JobStatus.of(job_service.job_status(ctx, job_id))
    return Response(status.model_dump_json(), media_type="application/json")


@router.post("/jobs/{job_id}/cancel", response_model=JobStatus)
def cancel_job(ctx: CtxDep, job_id: str):
    return JobStatus.of(job_service.cancel_job(ctx, job_id))


@router.get("/worker-stats")
def worker_stats(ctx: CtxDep):
    return job_service.worker_stats(ctx)
