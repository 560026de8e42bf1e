"""A job requeued after its worker died keeps its place in line: it runs again before the jobs
created after it, on the local pool (a `profai serve` killed and started again) and on Celery
(a pool child of a `profai worker` killed), instead of waiting behind the whole backlog."""

from __future__ import annotations

import os
import signal

import pytest
from celery_cluster import Cluster, owner_pid

from procs import kill_group, start_server
from profai.db import jobs_repo
from profai.db.engine import make_engine, make_session_factory, session_scope
from profai.db.models import Job
from profai.settings import Settings
from support import plugins_env, wait_until

LATER = 5  # jobs created after the one whose worker dies


def _jobs(sessions, ids: list[str]) -> dict[str, Job]:
    with session_scope(sessions) as session:
        return {job_id: jobs_repo.get(session, job_id) for job_id in ids}


def _create(sessions, seconds: float) -> str:
    with session_scope(sessions) as session:
        return jobs_repo.create(session, "sleep", {"seconds": seconds}).id


def _requeued_ahead_of_the_backlog(sessions, first: str, later: list[str], timeout: float = 120) -> None:
    """Once `first` is back in line, every later job still waiting then runs after it."""

    def back_in_line() -> set[str] | None:
        jobs = _jobs(sessions, [first, *later])
        if jobs[first].status != jobs_repo.PENDING and jobs[first].attempts < 2:
            return None
        return {j for j in later if jobs[j].status == jobs_repo.PENDING} or {"none"}

    waiting = wait_until(back_in_line, timeout=60, interval=0.05, message="the first job to be requeued")
    # Else the test proves nothing: a backlog must have been waiting when the job came back.
    assert len(waiting) >= 3, waiting
    wait_until(lambda: all(j.status in jobs_repo.FINISHED for j in _jobs(sessions, [first, *later]).values()),
               timeout=timeout, interval=0.2, message="every job to finish")
    jobs = _jobs(sessions, [first, *later])
    assert {j.status for j in jobs.values()} == {"completed"}
    assert jobs[first].attempts == 2 and all(jobs[j].attempts == 1 for j in later)
    # One job at a time: finishing before another means having run before it.
    assert all(jobs[first].completed_at < jobs[j].completed_at for j in waiting), \
        {j: (jobs[j].completed_at, jobs[first].completed_at) for j in waiting}


@pytest.mark.slow
def test_local_pool_runs_a_requeued_job_before_later_ones(tmp_path):
    data = tmp_path / "data"
    env = {"PROFAI_DATA_DIR": str(data), "MAX_WORKERS": "1", "JOB_LEASE_SECONDS": "10",
           "JOB_HEARTBEAT_SECONDS": "1", "REAPER_INTERVAL_SECONDS": "1", **plugins_env("fault_plugins")}
    engine = make_engine(Settings(_env_file=None, PROFAI_DATA_DIR=data).sqlalchemy_url)
    server, _ = start_server(env, tmp_path / "server.log")
    try:
        sessions = make_session_factory(engine)
        first = _create(sessions, 6)
        later = [_create(sessions, 1) for _ in range(LATER)]
        wait_until(lambda: _jobs(sessions, [first])[first].progress > 0, timeout=60,
                   message="the first job to run")
        kill_group(server, signal.SIGKILL)  # the server and its one worker thread die mid-job
        server, _ = start_server(env, tmp_path / "server.log")
        _requeued_ahead_of_the_backlog(sessions, first, later)
    finally:
        kill_group(server, signal.SIGTERM)
        engine.dispose()


@pytest.mark.slow
@pytest.mark.services
def test_celery_runs_a_requeued_job_before_later_ones(tmp_path, pg_databases, chroma_server_url):
    cluster = Cluster(tmp_path, pg_databases(), chroma_server_url)
    sessions = cluster.sessions()
    try:
        cluster.worker(concurrency=1)
        first = _create(sessions, 6)
        later = [_create(sessions, 1) for _ in range(LATER)]
        cluster.publish([first, *later])  # queued the way the API does, one message each, in order
        wait_until(lambda: _jobs(sessions, [first])[first].progress > 0, timeout=60,
                   message="the first job to run")
        os.kill(owner_pid(sessions, first), signal.SIGKILL)  # the pool child running it
        _requeued_ahead_of_the_backlog(sessions, first, later)
    finally:
        cluster.close()
