"""Jobs as users see them: status, cancellation, and what the workers are doing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy.engine import Row

from profai.db import jobs_repo
from profai.db.engine import fetch_one, session_scope
from profai.db.models import Job, utcnow
from profai.domain import Principal
from profai.errors import Conflict, NotFound, TooManyRequests
from profai.jobs.cleanup import clean_up
from profai.jobs.deps import JobDeps
from profai.services import access
from profai.services.deps import HasReads, HasRunner, HasSessions, HasSettings


class StatsDeps(HasSessions, HasRunner, Protocol):
    """What worker stats use of the wiring."""


def get_job(ctx: HasSessions, who: Principal, job_id: str) -> Job:
    """The job if `who` started it (or is an admin); 404 otherwise, as if it did not exist."""
    with session_scope(ctx.sessions) as session:
        job = jobs_repo.get(session, job_id)
    if job is None or not access.owns(who, job.owner_id):
        raise NotFound(f"Job {job_id} not found", code="job_not_found")
    return job


def job_status(ctx: HasReads, who: Principal, job_id: str) -> Row[Any]:
    """What pollers see, by the cheapest read there is: one autocommit statement."""
    row = fetch_one(ctx.reads, jobs_repo.STATUS_QUERY, jobs_repo.status_params(job_id))
    if row is None or not access.owns(who, row.owner_id):
        raise NotFound(f"Job {job_id} not found", code="job_not_found")
    return row


def cancel_job(ctx: JobDeps, who: Principal, job_id: str) -> Job:
    """Stop a job that has not finished. What it wrote is removed once nothing writes for it:
    now, if no worker runs it, else by its worker when it notices (at its next progress report
    or heartbeat) or by the reaper if that worker died."""
    job = get_job(ctx, who, job_id)
    with session_scope(ctx.sessions) as session:
        if not jobs_repo.cancel(session, job_id):
            raise Conflict(f"Job {job_id} is already {job.status}", code="job_finished")
    clean_up(ctx, job_id)
    return get_job(ctx, who, job_id)


def worker_stats(ctx: StatsDeps) -> dict[str, Any]:
    with session_scope(ctx.sessions) as session:
        by_state = jobs_repo.count_by_status(session)
    stats: dict[str, Any] = ctx.runner.stats() if ctx.runner is not None else {"runner": "none", "workers": []}
    stats.setdefault("queue_depth", by_state.get(jobs_repo.PENDING, 0))
    stats["jobs_by_state"] = by_state
    return stats


class QuotaDeps(HasSettings, HasSessions, Protocol):
    """What the job quota uses of the wiring."""


def check_quota(ctx: QuotaDeps, who: Principal) -> None:
    """Teachers only, and within their limits of unfinished jobs and uploads per hour."""
    access.require_teacher(who)
    if who.user_id is None:
        return  # the API_KEY admin and the CLI: the operator's own tools
    s = ctx.settings
    with session_scope(ctx.sessions) as session:
        active = jobs_repo.active_count(session, who.user_id)
        recent = jobs_repo.started_since(session, who.user_id, utcnow() - timedelta(hours=1))
    if active >= s.max_active_jobs:
        raise TooManyRequests(f"You have {active} unfinished jobs; wait for one to finish (at most "
                              f"{s.max_active_jobs} at once)", code="too_many_jobs", retry_after=30)
    if recent >= s.uploads_per_hour:
        raise TooManyRequests(f"At most {s.uploads_per_hour} uploads an hour", code="too_many_uploads",
                              retry_after=300)
