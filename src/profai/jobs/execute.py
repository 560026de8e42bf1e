"""Run one job: claim it, heartbeat while its pipeline runs, record the outcome.

Both runners (the local pool and Celery) call `execute_next`, which claims the oldest pending job,
so a job requeued after a crash runs before those created after it; `execute_job` runs one named
job. The step logic lives once, in pipelines/, run through the job kinds registered in
jobs/registry.py. Safe to call twice for the same id: the second claim fails and it returns.
A passing failure (errors.transient: a Retryable, a connection refused or dropped) is retried
after a backoff with jitter, within the job's attempts.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable

from profai.db import jobs_repo
from profai.db.engine import session_scope
from profai.errors import LeaseLost, PartTimeout, ProfAIError, Retryable, transient
from profai.jobs.cleanup import clean_up, let_go
from profai.jobs.deps import JobDeps
from profai.jobs.handle import Interrupted, JobHandle, owner_id
from profai.jobs.registry import DEFERRED, JobKind, kind_for
from profai.observability import logs, metrics
from profai.pipelines.progress import Step

log = logging.getLogger(__name__)

INTERNAL_ERROR = "Something went wrong on our side while running this job; the error was logged. Try again later."
# Exceptions that mean "past the soft time limit"; the Celery worker adds its own.
TIME_LIMIT_ERRORS: tuple[type[BaseException], ...] = (PartTimeout,)
BACKOFF_CAP = 60.0  # seconds: the longest wait between two attempts
__all__ = ["execute_job", "execute_next", "owner_id", "settle_parent"]  # owner_id: for the runners


def execute_job(deps: JobDeps, job_id: str, owner: str, stopping: threading.Event | None = None) -> str:
    """Run the job if it can be claimed; returns the outcome (skipped, completed, failed, ...).
    Its log lines carry the job's id and the id of the request that created it."""
    with logs.bound(job_id=job_id, request_id=None):
        with session_scope(deps.sessions) as session:
            claimed = jobs_repo.claim(session, job_id, owner, deps.settings.lease_seconds)
        return _execute(deps, job_id, owner, stopping) if claimed else "skipped"


def execute_next(deps: JobDeps, owner: str, stopping: threading.Event | None = None,
                 on_claim: Callable[[str], None] | None = None) -> tuple[str | None, str]:
    """Claim the oldest pending job and run it: (its id, the outcome), or (None, "idle") if no job
    was waiting. What runs is decided by the job table, not by which message or signal woke the
    caller, so a requeued job keeps its place in line. `on_claim` learns the id before it runs."""
    with session_scope(deps.sessions) as session:
        job_id = jobs_repo.claim_next(session, owner, deps.settings.lease_seconds)
    if job_id is None:
        return None, "idle"
    if on_claim is not None:
        on_claim(job_id)
    with logs.bound(job_id=job_id, request_id=None):
        return job_id, _execute(deps, job_id, owner, stopping)


def _execute(deps: JobDeps, job_id: str, owner: str, stopping: threading.Event | None) -> str:
    """Run a job this owner has just claimed."""
    s = deps.settings
    with session_scope(deps.sessions) as session:
        job = jobs_repo.get(session, job_id)
        assert job is not None
        kind, payload, attempt, job_max_attempts = job.kind, dict(job.payload), job.attempts, job.max_attempts
        parent_id, user_id = job.parent_id, job.owner_id
        logs.REQUEST_ID.set(job.request_id)  # undone by execute_job's `bound`
    log.info("job %s (%s): attempt %d of %d started", job_id, kind, attempt, job_max_attempts)
    steps = metrics.StepClock(kind)

    def report(progress: int, message: str, step: Step | None) -> bool:
        steps.at(step[0] if step else None)
        with session_scope(deps.sessions) as session:
            return jobs_repo.report(session, job_id, owner, progress, message, step)

    handle = JobHandle(id=job_id, kind=kind, payload=payload, attempt=attempt, _report=report,
                       soft_timeout=float(s.task_soft_timeout or s.task_timeout), owner=owner, user_id=user_id,
                       lease_seconds=s.lease_seconds)
    if stopping is not None:
        handle.stopping = stopping
    beat = _Heartbeat(deps, handle, owner)
    beat.start()
    try:
        outcome = _run(deps, kind_for(kind), handle, owner, job_max_attempts)
    finally:
        beat.stop()
        steps.close()
    seconds = time.monotonic() - handle.started
    metrics.JOB_RUNS.labels(kind, outcome).inc()
    metrics.JOB_SECONDS.labels(kind, outcome).observe(seconds)
    log.info("job %s (%s): %s after %.1f s", job_id, kind, outcome, seconds)
    if outcome == "lost":
        let_go(deps, job_id, owner)  # cancelled while it ran: now that it wrote its last, clean up
    if parent_id and outcome in ("completed", "failed"):
        settle_parent(deps, parent_id)
    return outcome


def _run(deps: JobDeps, job_kind: JobKind, handle: JobHandle, owner: str, job_max_attempts: int) -> str:
    job_id = handle.id
    try:
        result = job_kind.run(handle, deps)
    except LeaseLost:
        log.warning("job %s: lease lost, stopping without writing", job_id)
        return "lost"
    except Interrupted:
        with session_scope(deps.sessions) as session:
            released = jobs_repo.release(session, job_id, owner, "Requeued: its worker shut down")
        return "released" if released else "lost"
    except Retryable as exc:  # before ProfAIError: a provider's ProviderUnavailable is both
        return _retry(deps, handle, owner, job_max_attempts, transient(exc) or str(exc))
    except TIME_LIMIT_ERRORS as exc:
        limit = f"{handle.soft_timeout:.0f} s"
        message = str(exc) if isinstance(exc, PartTimeout) else f"Job exceeded its time limit of {limit}"
        return _fail(deps, handle, owner, message, "time_limit_exceeded")
    except ProfAIError as exc:
        return _fail(deps, handle, owner, exc.message, exc.code)
    except Exception as exc:  # a passing failure, a bug or a broken dependency; keep the worker alive
        # The details (a library's words, a server path) go to the log only; the job says what
        # its owner can act on.
        if reason := transient(exc):
            log.warning("job %s (%s): attempt %d failed: %s", job_id, handle.kind, handle.attempt, reason,
                        exc_info=True)
            return _retry(deps, handle, owner, job_max_attempts, reason)
        log.exception("job %s (%s) crashed", job_id, handle.kind)
        return _fail(deps, handle, owner, INTERNAL_ERROR, "internal_error")
    if result is DEFERRED:
        return "deferred"
    with session_scope(deps.sessions) as session:
        done = jobs_repo.finish(session, job_id, owner, jobs_repo.COMPLETED, result=result, message="Completed")
    return "completed" if done else "lost"


def settle_parent(deps: JobDeps, parent_id: str) -> None:
    """Let a split job's kind decide its state now that one of its parts finished."""
    with session_scope(deps.sessions) as session:
        kind = jobs_repo.kind_of(session, parent_id)
    settle = kind_for(kind).settle if kind else None
    if settle is not None:
        settle(parent_id, deps)


def backoff(base: float, attempt: int) -> float:
    """Seconds to wait after failed attempt `attempt` (1, 2, ...): doubling from `base`, capped,
    with jitter so that jobs failed by one outage do not all come back at once."""
    ceiling = min(BACKOFF_CAP, base * 2 ** (attempt - 1))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def _retry(deps: JobDeps, handle: JobHandle, owner: str, job_max_attempts: int, reason: str) -> str:
    """A passing failure: fail for good once the attempts are used up, else wait out the backoff
    (still holding the job, so nobody else takes it and a cancel still reaches it) and put the job
    back in line, where it keeps its place."""
    if handle.attempt >= job_max_attempts:
        return _fail(deps, handle, owner, f"Failed after {handle.attempt} attempts: {reason}", "too_many_attempts")
    delay = backoff(deps.settings.retry_backoff_seconds, handle.attempt)
    delay = min(delay, max(0.0, handle.deadline - time.monotonic()))  # the wait is part of the attempt
    _note(deps, handle, owner, f"Attempt {handle.attempt} failed ({reason}); trying again in {delay:.0f} s")
    until = time.monotonic() + delay
    while (left := until - time.monotonic()) > 0 and not handle.stopping.is_set():
        if handle.lost.wait(min(left, 0.25)):
            return "lost"  # cancelled (or reaped) meanwhile
    with session_scope(deps.sessions) as session:
        released = jobs_repo.release(session, handle.id, owner, f"Retrying after: {reason}", count_attempt=True)
    return "requeued" if released else "lost"


def _note(deps: JobDeps, handle: JobHandle, owner: str, message: str) -> None:
    """Show why the job waits; a database that is down cannot show it, which changes nothing."""
    try:
        with session_scope(deps.sessions) as session:
            jobs_repo.report(session, handle.id, owner, 0, message)
    except Exception as exc:
        log.warning("job %s: cannot record its message (%s)", handle.id, transient(exc) or exc)


def _fail(deps: JobDeps, handle: JobHandle, owner: str, error: str, code: str) -> str:
    with session_scope(deps.sessions) as session:
        done = jobs_repo.finish(session, handle.id, owner, jobs_repo.FAILED, error=error, error_code=code,
                                message="Failed")
    if not done:
        return "lost"
    clean_up(deps, handle.id)
    return "failed"


class _Heartbeat:
    """Extends the lease every few seconds from its own thread, whatever the pipeline is doing."""

    def __init__(self, deps: JobDeps, handle: JobHandle, owner: str) -> None:
        self.deps, self.handle, self.owner = deps, handle, owner
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{handle.id[:8]}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        s = self.deps.settings
        while not self._stop.wait(s.heartbeat_seconds):
            try:
                with session_scope(self.deps.sessions) as session:
                    alive = jobs_repo.heartbeat(session, self.handle.id, self.owner, s.lease_seconds)
            except Exception:  # a database blip: try again at the next beat
                log.warning("job %s: heartbeat failed", self.handle.id, exc_info=True)
                continue
            if not alive:
                self.handle.lost.set()
                return
