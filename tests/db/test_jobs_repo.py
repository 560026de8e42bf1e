"""Job state changes on SQLite and PostgreSQL: compare-and-set, leases, monotonic progress, claim order."""

from __future__ import annotations

from datetime import timedelta

from profai.db import jobs_repo
from profai.db.engine import make_engine, session_scope
from profai.db.models import Job, utcnow


def _new(sessions, max_attempts=3) -> str:
    with session_scope(sessions) as s:
        return jobs_repo.create(s, "course", {"x": 1}, max_attempts=max_attempts).id


def test_only_one_claim_wins(sessions):
    job_id = _new(sessions)
    with session_scope(sessions) as s:
        assert jobs_repo.claim(s, job_id, "a", 30)
    with session_scope(sessions) as s:
        assert not jobs_repo.claim(s, job_id, "b", 30)
        job = jobs_repo.get(s, job_id)
        assert job.status == "processing" and job.lease_owner == "a" and job.attempts == 1
        assert job.started_at is not None


def test_progress_never_goes_down_and_needs_the_lease(sessions):
    job_id = _new(sessions)
    with session_scope(sessions) as s:
        jobs_repo.claim(s, job_id, "a", 30)
        assert jobs_repo.report(s, job_id, "a", 40, "half")
        assert jobs_repo.report(s, job_id, "a", 10, "later, lower")
        assert not jobs_repo.report(s, job_id, "b", 90, "not mine")
    with session_scope(sessions) as s:
        job = jobs_repo.get(s, job_id)
        assert job.progress == 40 and job.message == "later, lower"


def test_finish_only_by_owner(sessions):
    job_id = _new(sessions)
    with session_scope(sessions) as s:
        jobs_repo.claim(s, job_id, "a", 30)
        assert not jobs_repo.finish(s, job_id, "b", jobs_repo.COMPLETED, result={})
        assert jobs_repo.finish(s, job_id, "a", jobs_repo.COMPLETED, result={"course_id": 1})
        assert not jobs_repo.heartbeat(s, job_id, "a", 30)
    with session_scope(sessions) as s:
        job = jobs_repo.get(s, job_id)
        assert job.status == "completed" and job.progress == 100 and job.result == {"course_id": 1}
        assert job.completed_at >= job.started_at >= job.created_at


def test_reaper_requeues_stale_then_fails_after_max_attempts(sessions):
    job_id = _new(sessions, max_attempts=2)
    later = utcnow() + timedelta(seconds=60)
    for attempt in (1, 2):
        with session_scope(sessions) as s:
            assert jobs_repo.claim(s, job_id, f"w{attempt}", 5)
        with session_scope(sessions) as s:
            reaped = jobs_repo.reap(s, now=later)
        if attempt == 1:
            assert reaped.requeued == [job_id]
        else:
            assert reaped.failed == [job_id]
    with session_scope(sessions) as s:
        job = jobs_repo.get(s, job_id)
        assert job.status == "failed" and job.error_code == "too_many_attempts"
        assert "2 attempts" in job.error
        assert not jobs_repo.claim(s, job_id, "w3", 5)


def test_reaper_leaves_live_leases_alone(sessions):
    job_id = _new(sessions)
    with session_scope(sessions) as s:
        jobs_repo.claim(s, job_id, "a", 30)
    with session_scope(sessions) as s:
        assert jobs_repo.reap(s) == jobs_repo.Reaped([], [])
        assert jobs_repo.reap(s, owners_gone=("a",)).requeued == [job_id]


def test_release_does_not_count_the_attempt(sessions):
    job_id = _new(sessions)
    with session_scope(sessions) as s:
        jobs_repo.claim(s, job_id, "a", 30)
        assert jobs_repo.release(s, job_id, "a", "shutting down")
    with session_scope(sessions) as s:
        job = jobs_repo.get(s, job_id)
        assert job.status == "pending" and job.attempts == 0 and job.lease_owner is None


def test_cancel(sessions):
    job_id = _new(sessions)
    with session_scope(sessions) as s:
        assert jobs_repo.cancel(s, job_id)
        assert not jobs_repo.cancel(s, job_id)
        assert not jobs_repo.claim(s, job_id, "a", 30)
        assert jobs_repo.count_by_status(s) == {"cancelled": 1}


def test_claims_in_arrival_order(sessions):
    ids = [_new(sessions) for _ in range(3)]
    with session_scope(sessions) as s:
        assert [jobs_repo.claim_next(s, "a", 30) for _ in range(4)] == [*ids, None]


def test_status_reads_see_commits_at_once_and_survive_a_dropped_connection(sessions, db_url):
    """The hot-reads engine (autocommit, no pre-ping) reads what was just committed, and a pooled
    connection the server dropped costs a retry, not an error."""
    from sqlalchemy import text

    from profai.db.engine import fetch_one

    reads = make_engine(db_url, hot_reads=True)
    job_id = _new(sessions)
    assert fetch_one(reads, jobs_repo.STATUS_QUERY, jobs_repo.status_params(job_id)).status == jobs_repo.PENDING
    with session_scope(sessions) as s:
        assert jobs_repo.claim(s, job_id, "w1", 30)
    row = fetch_one(reads, jobs_repo.STATUS_QUERY, jobs_repo.status_params(job_id))
    assert (row.id, row.status, row.attempts) == (job_id, jobs_repo.PROCESSING, 1)
    assert fetch_one(reads, jobs_repo.STATUS_QUERY, jobs_repo.status_params("no-such-job")) is None
    if db_url.startswith("postgresql"):
        with reads.connect() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
        with sessions() as s:  # the server ends the pooled connection, as a restart would
            assert s.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
        assert fetch_one(reads, jobs_repo.STATUS_QUERY, jobs_repo.status_params(job_id)).status == jobs_repo.PROCESSING
    reads.dispose()


def test_claims_take_the_oldest_job_even_when_it_was_requeued(sessions):
    with session_scope(sessions) as session:
        session.query(Job).delete()  # PostgreSQL's database is shared by the session's tests
        ids = [jobs_repo.create(session, "sleep", {}).id for _ in range(4)]
        spent = jobs_repo.create(session, "sleep", {}, max_attempts=0).id  # never claimable
    with session_scope(sessions) as session:
        assert jobs_repo.claim_next(session, "w:1:a", 30) == ids[0]
        assert jobs_repo.claim_next(session, "w:1:b", 30) == ids[1]
        # The first one's worker dies: it goes back to the queue, behind nothing created after it.
        assert jobs_repo.reap(session, owners_gone=("w:1:a",)).requeued == [ids[0]]
    with session_scope(sessions) as session:
        assert jobs_repo.claim_next(session, "w:2:a", 30) == ids[0]
        assert [jobs_repo.claim_next(session, "w:2:a", 30) for _ in range(3)] == [ids[2], ids[3], None]
        assert jobs_repo.get(session, spent).status == jobs_repo.PENDING
