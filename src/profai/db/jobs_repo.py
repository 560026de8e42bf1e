"""Job rows and their state changes. Every transition is a compare-and-set UPDATE, so two
workers can never both own a job and a late writer whose lease was taken changes nothing."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Result, Table, bindparam, case, false, func, insert, select, update
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql import ColumnElement

from profai.db.models import Job, utcnow
from profai.observability import logs

PENDING, PROCESSING, PROCESSING_CHUNKS = "pending", "processing", "processing_chunks"
COMPLETED, PARTIALLY_COMPLETED, FAILED, CANCELLED = "completed", "partially_completed", "failed", "cancelled"
RUNNING = (PROCESSING, PROCESSING_CHUNKS)
FINISHED = (COMPLETED, PARTIALLY_COMPLETED, FAILED, CANCELLED)


def create(
    session: Session, kind: str, payload: dict[str, Any], *, max_attempts: int = 3,
    job_id: str | None = None, parent_id: str | None = None, owner_id: int | None = None,
) -> Job:
    """Insert a pending job and return a detached copy of it; the caller commits, then submits
    its id to the runner. A plain INSERT: the ORM's unit of work doubled the cost of an upload's
    one row that nothing changes before the commit. It keeps the id of the request (or job, for
    a part) that creates it, for its worker's log lines."""
    now = utcnow()
    values = {"id": job_id or str(uuid.uuid4()), "kind": kind, "status": PENDING, "progress": 0,
              "message": "Waiting for a worker", "payload": payload, "max_attempts": max_attempts, "attempts": 0,
              "created_at": now, "updated_at": now, "parent_id": parent_id, "owner_id": owner_id,
              "request_id": logs.request_id()}
    session.execute(insert(cast(Table, Job.__table__)), values)
    return Job(**values)


def _changed(res: Result[Any]) -> int:
    """Rows an UPDATE changed (execute returns a CursorResult for DML)."""
    return cast("CursorResult[Any]", res).rowcount


def get(session: Session, job_id: str) -> Job | None:
    return session.get(Job, job_id, populate_existing=True)


def active_count(session: Session, owner_id: int) -> int:
    """A user's unfinished jobs (parts not counted)."""
    q = select(func.count()).where(Job.owner_id == owner_id, Job.parent_id.is_(None),
                                   Job.status.in_((PENDING, *RUNNING)))
    return session.scalar(q) or 0


def started_since(session: Session, owner_id: int, since: datetime) -> int:
    """Jobs a user started since `since` (parts not counted)."""
    q = select(func.count()).where(Job.owner_id == owner_id, Job.parent_id.is_(None), Job.created_at >= since)
    return session.scalar(q) or 0


def kind_of(session: Session, job_id: str) -> str | None:
    return session.scalar(select(Job.kind).where(Job.id == job_id))


# What a status read shows; selected by name so the row reads like a Job.
STATUS_COLUMNS = (Job.id, Job.kind, Job.status, Job.progress, Job.message, Job.step, Job.step_progress,
                  Job.created_at, Job.started_at,
                  Job.completed_at, Job.updated_at, Job.attempts, Job.result, Job.error, Job.error_code,
                  Job.owner_id)


# Built once with a bound id: executing the very statement the compiled cache holds spares
# SQLAlchemy re-matching the result columns on every poll (measured: ~20% of a status read).
STATUS_QUERY = select(*STATUS_COLUMNS).where(Job.id == bindparam("job_id"))


def status_params(job_id: str) -> dict[str, Any]:
    return {"job_id": job_id}


def claim(session: Session, job_id: str, owner: str, lease_seconds: float) -> bool:
    """pending -> processing for this owner, counting an attempt; False if someone else has it."""
    res = session.execute(update(Job).where(Job.id == job_id, *_CLAIMABLE).values(_claimed(owner, lease_seconds)))
    return _changed(res) == 1


# A pending job with an attempt left.
_CLAIMABLE = (Job.status == PENDING, Job.attempts < Job.max_attempts)


def _claimed(owner: str, lease_seconds: float) -> dict[str, Any]:
    """What a claim sets: this owner's lease, one more attempt."""
    now = utcnow()
    return {"status": PROCESSING, "lease_owner": owner, "lease_expires_at": now + timedelta(seconds=lease_seconds),
            "heartbeat_at": now, "attempts": Job.attempts + 1, "started_at": func.coalesce(Job.started_at, now),
            "message": "Started", "step": None, "step_progress": None, "updated_at": now}


def claim_next(session: Session, owner: str, lease_seconds: float) -> str | None:
    """Claim the oldest claimable pending job for this owner; its id, or None if there is none.
    Every runner claims this way, so whichever worker is free runs the job that waited longest
    (a job requeued after a crash keeps its place in line, by its creation time).
    One statement: on PostgreSQL, workers claiming at once skip each other's row (SKIP LOCKED)
    instead of all racing for the oldest; SQLite runs one writer at a time anyway."""
    oldest = (select(Job.id).where(*_CLAIMABLE).order_by(Job.created_at, Job.id).limit(1)
              .with_for_update(skip_locked=True).scalar_subquery())
    claimed = (update(Job).where(Job.id == oldest, *_CLAIMABLE).values(_claimed(owner, lease_seconds))
               .returning(Job.id).execution_options(synchronize_session=False))
    return session.scalar(claimed)


def _owned(job_id: str, owner: str) -> tuple[ColumnElement[bool], ...]:
    return (Job.id == job_id, Job.lease_owner == owner, Job.status.in_(RUNNING))


def heartbeat(session: Session, job_id: str, owner: str, lease_seconds: float) -> bool:
    """Extend the lease; False means the job is no longer ours (reaped, cancelled, finished)."""
    now = utcnow()
    res = session.execute(
        update(Job).where(*_owned(job_id, owner))
        .values(heartbeat_at=now, lease_expires_at=now + timedelta(seconds=lease_seconds))
    )
    return _changed(res) == 1


def report(session: Session, job_id: str, owner: str, progress: int, message: str,
           step: tuple[str, int] | None = None) -> bool:
    """Record progress (never lower than before), a message and the step under way with its own
    progress; False if the lease is gone."""
    values: dict[str, Any] = {
        "progress": case((Job.progress < progress, progress), else_=Job.progress),
        "message": message,
        "updated_at": utcnow(),
    }
    if step is not None:
        values["step"], values["step_progress"] = step
    res = session.execute(update(Job).where(*_owned(job_id, owner)).values(**values))
    return _changed(res) == 1


def publish(session: Session, job_id: str, owner: str, result: dict[str, Any]) -> bool:
    """Show a running job's result so far (a course readable while it is indexed)."""
    res = session.execute(update(Job).where(*_owned(job_id, owner)).values(result=result, updated_at=utcnow()))
    return _changed(res) == 1


def finish(
    session: Session, job_id: str, owner: str, status: str, *,
    result: dict[str, Any] | None = None, error: str | None = None, error_code: str | None = None,
    message: str = "",
) -> bool:
    """processing -> a final state, only for the lease owner."""
    now = utcnow()
    values: dict[str, Any] = {
        "status": status, "result": result, "error": error, "error_code": error_code,
        "message": message, "completed_at": now, "updated_at": now,
        "lease_owner": None, "lease_expires_at": None, "step": None, "step_progress": None,
    }
    if status == COMPLETED:
        values["progress"] = 100
    res = session.execute(update(Job).where(*_owned(job_id, owner)).values(**values))
    return _changed(res) == 1


def release(session: Session, job_id: str, owner: str, message: str, *, count_attempt: bool = False) -> bool:
    """Hand a running job back to the queue; a graceful shutdown does not count as an attempt."""
    attempts = Job.attempts if count_attempt else case((Job.attempts > 0, Job.attempts - 1), else_=0)
    res = session.execute(
        update(Job).where(*_owned(job_id, owner)).values(
            status=PENDING, lease_owner=None, lease_expires_at=None, message=message,
            attempts=attempts, updated_at=utcnow(),
        )
    )
    return _changed(res) == 1


@dataclass
class Reaped:
    requeued: list[str]
    failed: list[str]


def reap(session: Session, *, owners_gone: tuple[str, ...] = (), now: datetime | None = None) -> Reaped:
    """Return jobs whose lease expired (or whose owner is known dead) to the queue; a job that has
    used all its attempts fails instead, so a poison job cannot loop forever."""
    now = now or utcnow()
    stale = Job.status.in_(RUNNING) & (
        (Job.lease_expires_at < now) | (Job.lease_owner.in_(owners_gone) if owners_gone else false())
    )
    rows = session.execute(select(Job.id, Job.attempts, Job.max_attempts, Job.lease_owner).where(stale)).all()
    out = Reaped([], [])
    for job_id, attempts, max_attempts, owner in rows:
        guard = (Job.id == job_id, Job.lease_owner == owner, Job.status.in_(RUNNING))
        if attempts >= max_attempts:
            values: dict[str, Any] = {
                "status": FAILED, "completed_at": now, "error_code": "too_many_attempts",
                "error": f"Job failed after {attempts} attempts: the worker running it stopped "
                         "(crashed, was killed or ran out of time) every time.",
                "message": "Failed", "lease_owner": None, "lease_expires_at": None,
            }
            bucket = out.failed
        else:
            values = {"status": PENDING, "lease_owner": None, "lease_expires_at": None,
                      "message": f"Requeued after attempt {attempts}: its worker stopped responding"}
            bucket = out.requeued
        if _changed(session.execute(update(Job).where(*guard).values(updated_at=now, **values))):
            bucket.append(job_id)
    return out


def cancel(session: Session, job_id: str) -> bool:
    """Cancel an unfinished job and its unfinished parts. A running one keeps its lease until its
    worker lets go (see `let_go`): until then it may still be writing, so nothing is cleaned up."""
    now = utcnow()
    values = {"status": CANCELLED, "message": "Cancelled", "completed_at": now, "updated_at": now}
    unfinished = Job.status.in_((PENDING, *RUNNING))
    session.execute(update(Job).where(Job.parent_id == job_id, unfinished).values(**values))
    res = session.execute(update(Job).where(Job.id == job_id, unfinished).values(**values))
    return _changed(res) == 1


def let_go(session: Session, job_id: str, owner: str) -> bool:
    """The worker of a cancelled job has stopped writing: drop its lease. True if it held one."""
    res = session.execute(
        update(Job).where(Job.id == job_id, Job.lease_owner == owner, Job.status == CANCELLED)
        .values(lease_owner=None, lease_expires_at=None, updated_at=utcnow())
    )
    return _changed(res) == 1


def claim_cleanup(session: Session, job_id: str, owner: str, lease_seconds: float) -> Job | None:
    """The failed or cancelled job, if its clean-up may run now and has not finished: no worker
    holds it or any of its parts, and no other cleaner. A compare-and-set, so one caller at a
    time wins; the winner holds the job's lease until `cleanup_done` or `cleanup_failed` (or, if
    it dies, until the reaper takes the lease back and the clean-up runs again)."""
    part = aliased(Job)
    writing = select(part.id).where(part.parent_id == Job.id, part.lease_owner.is_not(None)).exists()
    now = utcnow()
    res = session.execute(
        update(Job).where(Job.id == job_id, Job.status.in_((FAILED, CANCELLED)), Job.cleaned_at.is_(None),
                          Job.lease_owner.is_(None), ~writing)
        .values(lease_owner=owner, lease_expires_at=now + timedelta(seconds=lease_seconds))
    )
    return get(session, job_id) if _changed(res) == 1 else None


def cleanup_done(session: Session, job_id: str) -> None:
    """The clean-up finished: it never runs again (whoever of two cleaners finished first)."""
    session.execute(update(Job).where(Job.id == job_id, Job.cleaned_at.is_(None))
                    .values(cleaned_at=utcnow(), lease_owner=None, lease_expires_at=None))


def cleanup_failed(session: Session, job_id: str, owner: str) -> None:
    """The clean-up could not finish (a store was down): let go, so the reaper runs it again."""
    session.execute(update(Job).where(Job.id == job_id, Job.lease_owner == owner, Job.cleaned_at.is_(None))
                    .values(lease_owner=None, lease_expires_at=None))


def release_stopped(session: Session, *, owners_gone: tuple[str, ...] = (), now: datetime | None = None) -> list[str]:
    """Cancelled jobs whose worker died before letting go, and failed or cancelled ones whose
    cleaner died: drop the lease, return their ids."""
    now = now or utcnow()
    gone = (Job.lease_expires_at < now) | (Job.lease_owner.in_(owners_gone) if owners_gone else false())
    ids = list(session.scalars(select(Job.id).where(Job.status.in_((FAILED, CANCELLED)), Job.lease_owner.is_not(None),
                                                    gone)))
    if ids:
        session.execute(update(Job).where(Job.id.in_(ids)).values(lease_owner=None, lease_expires_at=None))
    return ids


def awaiting_cleanup(session: Session) -> list[str]:
    """Jobs (not parts) whose clean-up has not finished: cancelled ones whose last writer died,
    and failed or cancelled ones whose clean-up a crash interrupted or a dead store stopped. A
    failed job with parts is left alone: its parts settled it, and a retry runs them again."""
    part = aliased(Job)
    has_parts = select(part.id).where(part.parent_id == Job.id).exists()
    return list(session.scalars(select(Job.id).where(
        Job.cleaned_at.is_(None), Job.parent_id.is_(None), Job.lease_owner.is_(None),
        (Job.status == CANCELLED) | ((Job.status == FAILED) & ~has_parts))))


def count_by_status(session: Session) -> dict[str, int]:
    return dict(session.execute(select(Job.status, func.count()).group_by(Job.status)).all())


def count_by_kind_and_status(session: Session) -> dict[tuple[str, str], int]:
    """Jobs (parts included) by (kind, status), for the metrics scrape."""
    rows = session.execute(select(Job.kind, Job.status, func.count()).group_by(Job.kind, Job.status)).all()
    return {(kind, status): n for kind, status, n in rows}


def lease_owners(session: Session) -> list[str]:
    """Every worker that holds a lease, on a running job or a cancelled one it has not let go."""
    return list(session.scalars(select(Job.lease_owner).where(Job.lease_owner.is_not(None)).distinct()))


def running_owners(session: Session) -> list[tuple[str, str | None]]:
    return list(session.execute(select(Job.id, Job.lease_owner).where(Job.status.in_(RUNNING))).all())


def stale_pending(session: Session, older_than: datetime) -> list[str]:
    """Pending jobs not touched since `older_than`: their queue message may have been lost."""
    q = select(Job.id).where(Job.status == PENDING, Job.updated_at < older_than).order_by(Job.created_at)
    return list(session.scalars(q))


def touch(session: Session, job_ids: list[str]) -> None:
    if job_ids:
        session.execute(update(Job).where(Job.id.in_(job_ids)).values(updated_at=utcnow()))


# --- Jobs split into parts -------------------------------------------------------------------
# The parent creates its parts and defers to processing_chunks with no lease (so no reaper
# touches it); the part that finishes last settles the parent by compare-and-set.


def defer(session: Session, job_id: str, owner: str, message: str) -> bool:
    """processing -> processing_chunks, releasing the lease: the parts carry the work now."""
    res = session.execute(
        update(Job).where(*_owned(job_id, owner)).values(
            status=PROCESSING_CHUNKS, lease_owner=None, lease_expires_at=None, message=message,
            updated_at=utcnow(),
        )
    )
    return _changed(res) == 1


def parts(session: Session, parent_id: str) -> list[Job]:
    return list(session.scalars(select(Job).where(Job.parent_id == parent_id).order_by(Job.created_at, Job.id)))


def part_counts(session: Session, parent_id: str) -> dict[str, int]:
    """Parts by status, without loading them (asked each time a part finishes)."""
    q = select(Job.status, func.count()).where(Job.parent_id == parent_id).group_by(Job.status)
    return dict(session.execute(q).all())


def settle(
    session: Session, parent_id: str, status: str, *, result: dict[str, Any], message: str,
    error: str | None = None, error_code: str | None = None,
) -> bool:
    """processing_chunks -> a final state, once: concurrent settlers race on this update."""
    now = utcnow()
    values: dict[str, Any] = {"status": status, "result": result, "message": message, "error": error,
                              "error_code": error_code, "completed_at": now, "updated_at": now}
    if status in (COMPLETED, PARTIALLY_COMPLETED):
        values["progress"] = 100
    res = session.execute(
        update(Job).where(Job.id == parent_id, Job.status == PROCESSING_CHUNKS, Job.lease_owner.is_(None))
        .values(**values)
    )
    return _changed(res) == 1


def advance(session: Session, job_id: str, progress: int, message: str) -> None:
    """Progress of a deferred parent, never lower than before."""
    session.execute(
        update(Job).where(Job.id == job_id, Job.status == PROCESSING_CHUNKS).values(
            progress=case((Job.progress < progress, progress), else_=Job.progress), message=message,
            updated_at=utcnow(),
        )
    )


def _requeue_values(now: datetime) -> dict[str, Any]:
    """A failed job made pending again with fresh attempts (a user asked to retry it)."""
    return {"status": PENDING, "attempts": 0, "error": None, "error_code": None, "result": None,
            "completed_at": None, "cleaned_at": None, "message": "Waiting for a worker (retry)", "updated_at": now}


def retry_failed_parts(session: Session, parent_id: str) -> list[str]:
    """Failed parts back to pending with fresh attempts, the parent back to processing_chunks."""
    now = utcnow()
    failed = list(session.scalars(select(Job.id).where(Job.parent_id == parent_id, Job.status == FAILED)))
    if not failed:
        return []
    session.execute(update(Job).where(Job.id.in_(failed)).values(**_requeue_values(now)))
    session.execute(
        update(Job).where(Job.id == parent_id, Job.status.in_((PARTIALLY_COMPLETED, FAILED))).values(
            status=PROCESSING_CHUNKS, error=None, error_code=None, completed_at=None, updated_at=now,
            message=f"Retrying {len(failed)} failed part(s)",
        )
    )
    return failed


def requeue_failed(session: Session, job_id: str) -> bool:
    """A failed job back to pending with fresh attempts (a user asked to retry it)."""
    res = session.execute(update(Job).where(Job.id == job_id, Job.status == FAILED).values(**_requeue_values(utcnow())))
    return _changed(res) == 1


def unsettled_parents(session: Session) -> list[str]:
    """Deferred parents whose parts have all finished: their settle step was lost (a crash)."""
    part = aliased(Job)
    unfinished = select(part.id).where(part.parent_id == Job.id, part.status.not_in(FINISHED)).exists()
    return list(session.scalars(
        select(Job.id).where(Job.status == PROCESSING_CHUNKS, Job.lease_owner.is_(None), ~unfinished)
    ))


def top_level(session: Session, kind: str) -> list[tuple[str, str, str | None, dict[str, Any]]]:
    """Every job of a kind that is not a part: its id, status, lease owner and payload (for the
    orphan sweep, which keeps what a job or course still uses)."""
    q = select(Job.id, Job.status, Job.lease_owner, Job.payload).where(Job.kind == kind, Job.parent_id.is_(None))
    return [(job_id, status, owner, payload) for job_id, status, owner, payload in session.execute(q)]
