"""Jobs as users see them: status, cancellation, and what the workers are doing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from profai.db import jobs_repo
from profai.db.engine import fetch_one, session_scope
from profai.db.models import Job
from profai.errors import Conflict, NotFound

if TYPE_CHECKING:
    from sqlalchemy.engine import Row

    from profai.wiring import Container


def get_job(ctx: Container, job_id: str) -> Job:
    with session_scope(ctx.sessions) as session:
        job = jobs_repo.get(session, job_id)
    if job is None:
        raise NotFound(f"Job {job_id} not found", code="job_not_found")
    return job


def job_status(ctx: Container, job_id: str) -> Row:
    """What pollers see, by the cheapest read there is: one autocommit statement."""
    row = fetch_one(ctx.reads, jobs_repo.status_query(job_id))
    if row is None:
        raise NotFound(f"Job {job_id} not found", code="job_not_found")
    return row


def cancel_job(ctx: Container, job_id: str) -> Job:
    """Stop a job that has not finished; its worker notices at its next progress report."""
    job = get_job(ctx, job_id)
    with session_scope(ctx.sessions) as session:
        if not jobs_repo.cancel(session, job_id):
            raise Conflict(f"Job {job_id} is already {job.status}", code="job_finished")
    from profai.jobs.registry import pipeline_for

    pipeline_for(job.kind).cleanup(job_id, job.payload, ctx)
    return get_job(ctx, job_id)


def worker_stats(ctx: Container) -> dict[str, Any]:
    with session_scope(ctx.sessions) as session:
        by_state = jobs_repo.count_by_status(session)
    stats = ctx.runner.stats() if ctx.runner is not None else {"runner": "none", "workers": []}
    stats.setdefault("queue_depth", by_state.get(jobs_repo.PENDING, 0))
    stats["jobs_by_state"] = by_state
    return stats
