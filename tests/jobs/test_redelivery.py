"""A late redelivery of a settled job's message does nothing: published again for a completed, a
failed and a cancelled job, or handed back by Redis once the visibility timeout of a killed
worker's message has passed. Real PostgreSQL, Redis, a Chroma server and `profai worker`s."""

from __future__ import annotations

import re
import signal
from pathlib import Path

import pytest
import redis
from celery_cluster import Cluster, upload

from factories import make_pdf
from procs import kill_group, poll_job
from profai.db import jobs_repo
from profai.db.engine import session_scope
from profai.db.models import Job
from profai.pipelines.pdf_to_course import course_collection
from profai.stores.vectors import ChromaVectorStore
from support import admin_http, wait_until

pytestmark = [pytest.mark.services, pytest.mark.slow]


@pytest.fixture
def cluster(tmp_path, pg_databases, chroma_server_url):
    c = Cluster(tmp_path, pg_databases(), chroma_server_url)
    yield c
    c.close()


def _rows(sessions, job_ids: list[str]) -> dict[str, dict]:
    with session_scope(sessions) as session:
        jobs = [jobs_repo.get(session, job_id) for job_id in job_ids]
        return {job.id: {c.name: getattr(job, c.name) for c in Job.__table__.columns} for job in jobs}


def _all_job_ids(sessions) -> set[str]:
    with session_scope(sessions) as session:
        return {job.id for job in session.query(Job)}


def _finished_tasks(logs: list[Path]) -> dict[str, str]:
    """Celery task id -> what the task returned, from the workers' logs."""
    text = "".join(log.read_text(errors="replace") for log in logs if log.exists())
    return dict(re.findall(r"Task profai\.execute_job\[([0-9a-f-]+)\] succeeded in \S+s: '(\w+)'", text))


def _unacked(cluster: Cluster) -> int:
    client = redis.Redis.from_url(cluster.env["REDIS_URL"])
    try:
        return int(client.hlen(f"{cluster.env['CELERY_QUEUE']}.unacked"))
    finally:
        client.close()


def test_publishing_settled_jobs_again_changes_nothing(cluster, tmp_path):
    sessions = cluster.sessions()
    cluster.worker(concurrency=1)
    api = cluster.server()
    completed = upload(api, make_pdf(tmp_path / "bio.pdf"), "Biology")
    failed = cluster.enqueue("crash", {}, max_attempts=1)  # kills its worker: failed for good at once
    cancelled = cluster.enqueue("sleep", {"seconds": 60})
    poll_job(api, cancelled, timeout=120, until=lambda body: body["status"] == "processing")
    assert admin_http.post(f"{api}/api/jobs/{cancelled}/cancel").json()["status"] == "cancelled"
    settled = [completed, failed, cancelled]
    wait_until(lambda: all(row["status"] in jobs_repo.FINISHED and (row["status"] == "completed" or row["cleaned_at"])
                           for row in _rows(sessions, settled).values()), timeout=180, interval=0.25,
               message=lambda: f"the jobs to settle: {_rows(sessions, settled)}")
    before = _rows(sessions, settled)
    assert [before[j]["status"] for j in settled] == ["completed", "failed", "cancelled"]
    store = ChromaVectorStore.server(cluster.env["CHROMA_URL"])
    passages = before[completed]["result"]["passages"]
    assert store.count(course_collection(completed)) == passages
    files = sorted(p for p in (cluster.root / "data" / "uploads").rglob("*") if p.is_file())
    jobs_before = _all_job_ids(sessions)

    tasks = cluster.publish(settled * 2)  # late, twice over: as Redis or a resend would
    logs = sorted(cluster.root.glob("worker-*.log"))
    done = wait_until(lambda: (d := _finished_tasks(logs)) and all(t in d for t in tasks) and d, timeout=60,
                      message="the worker to take every message")
    assert {done[t] for t in tasks} == {"idle"}  # nothing was waiting: nothing ran
    assert _rows(sessions, settled) == before  # not a field changed, not even updated_at
    assert _all_job_ids(sessions) == jobs_before
    assert admin_http.get(f"{api}/api/courses").json()["total"] == 1
    assert store.count(course_collection(completed)) == passages
    assert sorted(p for p in (cluster.root / "data" / "uploads").rglob("*") if p.is_file()) == files


def test_a_killed_workers_message_comes_back_after_the_visibility_timeout_and_does_nothing(tmp_path, pg_databases,
                                                                                         chroma_server_url):
    # Longer than the job takes on the second worker, so the message comes back after it settled.
    cluster = Cluster(tmp_path, pg_databases(), chroma_server_url, CELERY_VISIBILITY_TIMEOUT="20",
                      CELERY_RESTORE_INTERVAL_SECONDS="1")
    sessions = cluster.sessions()
    try:
        doomed = cluster.worker(concurrency=1)
        with session_scope(sessions) as session:
            job_id = jobs_repo.create(session, "sleep", {"seconds": 3}).id
        [task] = cluster.publish([job_id])
        wait_until(lambda: _rows(sessions, [job_id])[job_id]["progress"] > 0, timeout=60, message="the job to run")
        kill_group(doomed, signal.SIGKILL)  # the whole worker: nobody will ever acknowledge its message
        assert _unacked(cluster) == 1
        cluster.worker(concurrency=1)
        # The reaper requeues the job at once (its owner is a dead process here) and it runs again.
        wait_until(lambda: _rows(sessions, [job_id])[job_id]["status"] == "completed", timeout=60,
                   message="the job to complete on the second worker")
        before = _rows(sessions, [job_id])
        assert before[job_id]["attempts"] == 2

        logs = sorted(cluster.root.glob("worker-*.log"))
        outcome = wait_until(lambda: _finished_tasks(logs).get(task), timeout=120, interval=0.5,
                             message="Redis to hand the dead worker's message back")
        assert outcome == "idle"
        assert _rows(sessions, [job_id]) == before
        wait_until(lambda: _unacked(cluster) == 0, timeout=30, message="the unacked set to empty")
    finally:
        cluster.close()
