"""Returns jobs whose worker died to the queue: by expired lease, or at once when the owner is a
process on this host that no longer exists. Runs again the clean-ups that could not finish, and
every ORPHAN_SWEEP_SECONDS removes what belongs to no job or course (jobs/sweep.py)."""

from __future__ import annotations

import logging
import os
import socket
import time

from profai.db import jobs_repo
from profai.db.engine import session_scope
from profai.errors import transient
from profai.jobs.cleanup import clean_up
from profai.jobs.deps import JobDeps
from profai.jobs.execute import settle_parent
from profai.jobs.sweep import report_lines, sweep
from profai.observability.metrics import pid_alive

log = logging.getLogger(__name__)


def dead_local_owners(owners: list[str], alive_tags: set[str] | None = None) -> tuple[str, ...]:
    """Owners (host:pid:tag) on this host whose process is gone, or whose tag this process no
    longer runs (a previous boot of the same pid)."""
    host = socket.gethostname()
    gone = []
    for owner in owners:
        if not owner:
            continue
        o_host, _, rest = owner.partition(":")
        pid_s, _, tag = rest.partition(":")
        if o_host != host or not pid_s.isdigit():
            continue
        pid = int(pid_s)
        if not pid_alive(pid) or (pid == os.getpid() and alive_tags is not None and tag not in alive_tags):
            gone.append(owner)
    return tuple(gone)


def reap_once(deps: JobDeps, alive_tags: set[str] | None = None) -> jobs_repo.Reaped:
    """One sweep: requeued jobs go back to the runner, failed and abandoned cancelled ones are
    cleaned up, and parents whose last part's settling was lost are settled."""
    with session_scope(deps.sessions) as session:
        gone = dead_local_owners(jobs_repo.lease_owners(session), alive_tags)
        reaped = jobs_repo.reap(session, owners_gone=gone)
        stopped = jobs_repo.release_stopped(session, owners_gone=gone)
    if reaped.requeued or reaped.failed or stopped:
        log.warning("reaper: requeued %s, failed %s, cancelled and let go %s", reaped.requeued, reaped.failed, stopped)
    for job_id in reaped.requeued:
        if deps.runner is not None:
            deps.runner.submit(job_id)
    for job_id in reaped.failed:
        clean_up(deps, job_id)
        with session_scope(deps.sessions) as session:
            job = jobs_repo.get(session, job_id)
        if job is not None and job.parent_id:
            settle_parent(deps, job.parent_id)
    # Cancelled jobs whose last writer died, and failed or cancelled ones whose clean-up a crash
    # interrupted or a store that was down stopped: run again at every sweep until it finishes.
    with session_scope(deps.sessions) as session:
        unclean = jobs_repo.awaiting_cleanup(session)
        unsettled = jobs_repo.unsettled_parents(session)
    for job_id in unclean:
        clean_up(deps, job_id)
    # A part that finished just before its worker died may have left its parent unsettled.
    for parent_id in unsettled:
        settle_parent(deps, parent_id)
    return reaped


class OrphanSweeps:
    """The orphan sweep of a reaper loop: every ORPHAN_SWEEP_SECONDS (0: never), removes vectors
    and files that belong to no job or course."""

    def __init__(self, deps: JobDeps) -> None:
        self.deps = deps
        self._due = time.monotonic() + deps.settings.orphan_sweep_seconds

    def tick(self) -> None:
        """Sweep if it is time; never raises (a store that is down is tried at the next one)."""
        interval = self.deps.settings.orphan_sweep_seconds
        if not interval or time.monotonic() < self._due:
            return
        self._due = time.monotonic() + interval
        try:
            found = sweep(self.deps, fix=True)
        except Exception as exc:
            reason = transient(exc)
            log.warning("orphan sweep stopped (%s); next in %.0f s", reason or repr(exc), interval,
                        exc_info=reason is None)
            return
        if found.found:
            log.warning("orphan sweep removed %s:\n  %s", found.summary(), "\n  ".join(report_lines(found, fixed=True)))
