"""Run one job by id: claim it, heartbeat while its pipeline runs, record the outcome.

Both runners (the local pool and Celery) call `execute_job`; the step logic lives once, in
pipelines/, run through the job kinds registered in jobs/registry.py. Safe to call twice for the
same id: the second claim fails and it returns.
"""

from __future__ import annotations

import logging
import os
import socket
import threading

from profai.db import jobs_repo
from profai.db.engine import session_scope
from profai.errors import LeaseLost, PartTimeout, ProfAIError, Retryable
from profai.jobs.cleanup import clean_up, let_go
from profai.jobs.deps import JobDeps
from profai.jobs.handle import Interrupted, JobHandle
from profai.jobs.registry import DEFERRED, JobKind, kind_for
from profai.pipelines.progress import Step

log = logging.getLogger(__name__)

INTERNAL_ERROR = "Something went wrong on our side while running this job; the error was logged. Try again later."
# Exceptions that mean "past the soft time limit"; the Celery worker adds its own.
TIME_LIMIT_ERRORS: tuple[type[BaseException], ...] = (PartTimeout,)


def owner_id(tag: str) -> str:
    """host:pid:tag, so a reaper on the same host can tell a dead owner from a live one."""
    return f"{socket.gethostname()}:{os.getpid()}:{tag}"


def execute_job(deps: JobDeps, job_id: str, owner: str, stopping: threading.Event | None = None) -> str:
    """Run the job if it can be claimed; returns the outcome (skipped, completed, failed, ...)."""
    s = deps.settings
    with session_scope(deps.sessions) as session:
        if not jobs_repo.claim(session, job_id, owner, s.lease_seconds):
            return "skipped"
        job = jobs_repo.get(session, job_id)
        assert job is not None
        kind, payload, attempt, job_max_attempts = job.kind, dict(job.payload), job.attempts, job.max_attempts
        parent_id, user_id = job.parent_id, job.owner_id

    def report(progress: int, message: str, step: Step | None) -> bool:
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
    except Retryable as exc:
        if handle.attempt < job_max_attempts:
            with session_scope(deps.sessions) as session:
                jobs_repo.release(session, job_id, owner, f"Retrying after: {exc}", count_attempt=True)
            return "requeued"
        return _fail(deps, handle, owner, f"Failed after {handle.attempt} attempts: {exc}", "too_many_attempts")
    except TIME_LIMIT_ERRORS as exc:
        limit = f"{handle.soft_timeout:.0f} s"
        message = str(exc) if isinstance(exc, PartTimeout) else f"Job exceeded its time limit of {limit}"
        return _fail(deps, handle, owner, message, "time_limit_exceeded")
    except ProfAIError as exc:
        return _fail(deps, handle, owner, exc.message, exc.code)
    except Exception:  # a bug or a broken dependency: fail readably, keep the worker alive
        # The details (a library's words, a server path) go to the log only; the job says what
        # its owner can act on.
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
