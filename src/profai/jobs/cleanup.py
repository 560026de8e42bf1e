"""The one clean-up path. A job that fails, is reaped for good or is cancelled has its kind's
clean-up run exactly once, by whoever sees it stop writing last: the worker that failed it or
let go of it, the canceller when no worker held it, or the reaper when its worker died."""

from __future__ import annotations

import logging

from profai.db import jobs_repo
from profai.db.engine import session_scope
from profai.jobs.deps import JobDeps
from profai.jobs.registry import kind_for

log = logging.getLogger(__name__)


def clean_up(deps: JobDeps, job_id: str) -> bool:
    """Run the job's clean-up if it has ended and nobody writes for it (nor for its parts) any
    more, and nobody ran it yet; True if this call ran it."""
    with session_scope(deps.sessions) as session:
        job = jobs_repo.claim_cleanup(session, job_id)
    if job is None:
        return False
    try:
        kind_for(job.kind).cleanup(job.id, job.payload, deps)
    except Exception:  # logged; the job's row already says why it ended
        log.exception("job %s: clean-up failed", job_id)
    return True


def let_go(deps: JobDeps, job_id: str, owner: str) -> None:
    """A worker stopped writing for a job it no longer owns: if it was cancelled, drop the lease
    and clean up the whole job (its parent's, for a part) once nothing else writes for it."""
    with session_scope(deps.sessions) as session:
        held = jobs_repo.let_go(session, job_id, owner)
        job = jobs_repo.get(session, job_id) if held else None
    if job is not None:
        clean_up(deps, job.parent_id or job.id)
