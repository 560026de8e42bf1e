"""The one clean-up path. A job that fails, is reaped for good or is cancelled has its kind's
clean-up run until it finishes once, by whoever sees it stop writing last: the worker that failed
it or let go of it, the canceller when no worker held it, or the reaper when its worker died. A
clean-up that cannot finish (the vector store is down) lets go, and the reaper runs it again at
each sweep until it does; one whose cleaner died is taken back with the cleaner's lease."""

from __future__ import annotations

import logging

from profai.db import jobs_repo
from profai.db.engine import session_scope
from profai.errors import transient
from profai.jobs.deps import JobDeps
from profai.jobs.handle import owner_id
from profai.jobs.registry import kind_for

log = logging.getLogger(__name__)


def clean_up(deps: JobDeps, job_id: str) -> bool:
    """Run the job's clean-up if it has ended, nobody writes for it (nor for its parts) any more
    and its clean-up has not finished yet; True if this call finished it."""
    owner = owner_id("cleanup")
    s = deps.settings
    with session_scope(deps.sessions) as session:
        # A clean-up gets as long as a job step before another cleaner may take it over.
        job = jobs_repo.claim_cleanup(session, job_id, owner, max(s.lease_seconds, s.task_timeout))
    if job is None:
        return False
    try:
        kind_for(job.kind).cleanup(job.id, job.payload, deps)
    except Exception as exc:  # the job's row already says why it ended; the reaper tries again
        if reason := transient(exc):
            log.warning("job %s: clean-up stopped (%s); the reaper will try again", job_id, reason)
        else:
            log.exception("job %s: clean-up failed; the reaper will try again", job_id)
        with session_scope(deps.sessions) as session:
            jobs_repo.cleanup_failed(session, job_id, owner)
        return False
    with session_scope(deps.sessions) as session:
        jobs_repo.cleanup_done(session, job_id)
    return True


def let_go(deps: JobDeps, job_id: str, owner: str) -> None:
    """A worker stopped writing for a job it no longer owns: if it was cancelled, drop the lease
    and clean up the whole job (its parent's, for a part) once nothing else writes for it."""
    with session_scope(deps.sessions) as session:
        held = jobs_repo.let_go(session, job_id, owner)
        job = jobs_repo.get(session, job_id) if held else None
    if job is not None:
        clean_up(deps, job.parent_id or job.id)
