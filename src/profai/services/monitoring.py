"""What GET /metrics shows: every process's counters (observability.metrics) and the job table's
state, read at scrape time so it is the same whichever process answers."""

from __future__ import annotations

import logging

from profai.db import jobs_repo
from profai.db.engine import session_scope
from profai.observability import metrics
from profai.services.deps import HasSessions

log = logging.getLogger(__name__)
STATES = (jobs_repo.PENDING, *jobs_repo.RUNNING, *jobs_repo.FINISHED)


def exposition(ctx: HasSessions) -> bytes:
    """The Prometheus text exposition. Without the database it still shows the processes' own
    metrics (and leaves out the job gauges), so a scrape says more than "down"."""
    try:
        with session_scope(ctx.sessions) as session:
            counts = jobs_repo.count_by_kind_and_status(session)
    except Exception:
        log.warning("metrics: cannot read the job table", exc_info=True)
        return metrics.render()
    return metrics.render(metrics.job_families(counts, STATES, jobs_repo.PENDING))
