"""Returns jobs whose worker died to the queue: by expired lease, or at once when the owner is a
process on this host that no longer exists."""

from __future__ import annotations

import logging
import os
import socket
from typing import TYPE_CHECKING

from profai.db import jobs_repo
from profai.db.engine import session_scope
from profai.jobs.execute import settle_parent
from profai.jobs.registry import pipeline_for

if TYPE_CHECKING:
    from profai.wiring import Container

log = logging.getLogger(__name__)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def dead_local_owners(owners: list[str | None], alive_tags: set[str] | None = None) -> tuple[str, ...]:
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


def reap_once(ctx: Container, alive_tags: set[str] | None = None) -> jobs_repo.Reaped:
    """One sweep: requeued jobs go back to the runner, failed ones are cleaned up."""
    with session_scope(ctx.sessions) as session:
        owners = [owner for _, owner in jobs_repo.running_owners(session)]
        reaped = jobs_repo.reap(session, owners_gone=dead_local_owners(owners, alive_tags))
    if reaped.requeued or reaped.failed:
        log.warning("reaper: requeued %s, failed %s", reaped.requeued, reaped.failed)
    for job_id in reaped.requeued:
        if ctx.runner is not None:
            ctx.runner.submit(job_id)
    for job_id in reaped.failed:
        with session_scope(ctx.sessions) as session:
            job = jobs_repo.get(session, job_id)
        try:
            pipeline_for(job.kind).cleanup(job_id, job.payload, ctx)
        except Exception:
            log.exception("job %s: clean-up after failure failed", job_id)
        if job.parent_id:
            settle_parent(ctx, job.parent_id)
    # A part that finished just before its worker died may have left its parent unsettled.
    with session_scope(ctx.sessions) as session:
        unsettled = jobs_repo.unsettled_parents(session)
    for parent_id in unsettled:
        settle_parent(ctx, parent_id)
    return reaped
