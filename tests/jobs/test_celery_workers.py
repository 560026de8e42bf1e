"""The distributed stack under failure, with real PostgreSQL, Redis, a Chroma server and
`profai worker` processes: no job lost, none run twice."""

from __future__ import annotations

import os
import signal
import subprocess

import pytest
from celery_cluster import Cluster, owner_pid, upload, wait_status

from factories import make_pdf
from procs import kill_group, poll_job
from profai.pipelines.pdf_to_course import course_collection
from profai.stores.vectors import ChromaVectorStore
from support import R_MANUALS, admin_http, wait_until

pytestmark = [pytest.mark.services, pytest.mark.slow]
FINAL = ("completed", "failed", "cancelled", "partially_completed")


@pytest.fixture
def cluster(tmp_path, pg_databases, chroma_server_url):
    c = Cluster(tmp_path, pg_databases(), chroma_server_url)
    yield c
    c.close()


@pytest.fixture
def sessions(cluster):
    return cluster.sessions()


def _assert_one_course_and_exact_vectors(base: str, chroma_url: str, results: dict[str, dict]) -> None:
    store = ChromaVectorStore.server(chroma_url)
    courses = admin_http.get(f"{base}/api/courses?limit=500").json()
    assert courses["total"] == len(results)
    assert {c["course_id"] for c in courses["courses"]} == {r["result"]["course_id"] for r in results.values()}
    assert all(c["search_ready"] for c in courses["courses"])  # course first, then its index, on Celery too
    for body in results.values():
        seconds = body["result"]["seconds"]
        # A rerun finds its course saved: only the first attempt times how soon it was readable.
        assert body["result"]["search_ready"] and seconds.get("readable", 0) < seconds["searchable"]
    for job_id, body in results.items():
        assert store.count(course_collection(job_id)) == body["result"]["passages"]


def test_twenty_uploads_with_two_workers_each_run_once(cluster, tmp_path):
    cluster.worker(concurrency=1)
    cluster.worker(concurrency=1)
    api_a, api_b = cluster.server(), cluster.server()
    pdf = make_pdf(tmp_path / "bio.pdf")
    jobs = [upload(api_a if n % 2 else api_b, pdf, f"Course {n}") for n in range(20)]
    # Every API process answers for every job.
    results = {j: poll_job(api_b if n % 2 else api_a, j, timeout=240) for n, j in enumerate(jobs)}
    assert all(r["status"] == "completed" for r in results.values()), results
    assert all(r["attempts"] == 1 for r in results.values())
    _assert_one_course_and_exact_vectors(api_a, cluster.env["CHROMA_URL"], results)
    stats = admin_http.get(f"{api_a}/api/worker-stats").json()
    assert stats["runner"] == "celery" and len(stats["workers"]) == 2
    assert stats["jobs_by_state"] == {"completed": 20}
    assert stats["queue_depth"] == 0


def test_killed_child_job_completes_once(cluster, sessions):
    cluster.worker(concurrency=1)
    cluster.worker(concurrency=1)
    api = cluster.server()
    job_id = upload(api, R_MANUALS / "R-intro.pdf", "R intro")
    wait_status(api, job_id, lambda b: b["status"] == "processing" and b["progress"] >= 20, timeout=90)
    os.kill(owner_pid(sessions, job_id), signal.SIGKILL)  # the pool child, not the worker
    body = poll_job(api, job_id, timeout=180)
    assert body["status"] == "completed", body
    assert body["attempts"] == 2
    _assert_one_course_and_exact_vectors(api, cluster.env["CHROMA_URL"], {job_id: body})


def test_whole_worker_killed_then_replaced(cluster, sessions, tmp_path):
    first = cluster.worker(concurrency=2)
    api = cluster.server()
    pdf = make_pdf(tmp_path / "bio.pdf", repeat=12)
    jobs = [upload(api, pdf, f"Course {n}") for n in range(3)]
    wait_status(api, jobs[0], lambda b: b["status"] == "processing" and b["step"] == "indexing", timeout=90)
    kill_group(first, signal.SIGKILL)
    cluster.worker(concurrency=2)
    results = {j: poll_job(api, j, timeout=90) for j in jobs}
    assert all(r["status"] == "completed" for r in results.values()), results
    # The job the dead worker held was requeued when its lease ran out, and ran once more on the new one.
    assert results[jobs[0]]["attempts"] == 2
    _assert_one_course_and_exact_vectors(api, cluster.env["CHROMA_URL"], results)


def test_poison_job_fails_after_three_attempts(cluster, sessions, tmp_path):
    cluster.worker(concurrency=1)
    api = cluster.server()
    poison = cluster.enqueue("crash", {})
    good = upload(api, make_pdf(tmp_path / "bio.pdf"), "Still works")
    body = poll_job(api, poison, timeout=120)
    assert body["status"] == "failed"
    assert body["attempts"] == 3
    assert body["error_code"] == "too_many_attempts" and "3 attempts" in body["error"]
    assert poll_job(api, good, timeout=120)["status"] == "completed"


def test_sigterm_hands_the_job_to_another_worker(cluster, sessions):
    a = cluster.worker(concurrency=1)
    api = cluster.server()
    job_id = cluster.enqueue("sleep", {"seconds": 12})
    wait_status(api, job_id, lambda b: b["status"] == "processing", timeout=30)
    b = cluster.worker(concurrency=1)
    first_owner = owner_pid(sessions, job_id)
    os.kill(a.pid, signal.SIGTERM)
    back = wait_status(api, job_id, lambda body: body["status"] == "pending" or
                       (body["status"] == "processing" and owner_pid(sessions, job_id) != first_owner), timeout=10)
    assert back["status"] in ("pending", "processing")
    a.wait(timeout=30)  # the first worker exits instead of finishing the job
    body = poll_job(api, job_id, timeout=60)
    assert body["status"] == "completed"
    assert body["attempts"] == 1  # a graceful hand-back is not a failed attempt
    assert body["result"]["pid"] != first_owner and b.poll() is None


def test_redis_restart_mid_run(cluster, sessions, tmp_path):
    cluster.worker(concurrency=1)
    api = cluster.server()
    pdf = make_pdf(tmp_path / "bio.pdf", repeat=6)
    jobs = [upload(api, pdf, f"Course {n}") for n in range(6)]
    wait_status(api, jobs[0], lambda b: b["status"] == "processing", timeout=60)
    subprocess.run(["redis-cli", "-h", "127.0.0.1", "shutdown", "nosave"], check=False)
    wait_until(lambda: subprocess.run(["redis-cli", "-h", "127.0.0.1", "ping"], capture_output=True).returncode,
               message="Redis to stop (its port free for the new one)")
    subprocess.run(["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1", "--port", "6379",
                    "--save", "", "--appendonly", "no", "--dir", "/var/lib/redis",
                    "--logfile", "/var/log/redis/ci.log"], check=True)
    results = {j: poll_job(api, j, timeout=180) for j in jobs}
    assert all(r["status"] == "completed" for r in results.values()), results
    _assert_one_course_and_exact_vectors(api, cluster.env["CHROMA_URL"], results)


def test_soft_time_limit_fails_the_job_clearly(cluster, sessions):
    cluster.worker(concurrency=1, TASK_TIMEOUT="8", TASK_SOFT_TIMEOUT="3")
    api = cluster.server()
    job_id = cluster.enqueue("sleep", {"seconds": 6})
    body = poll_job(api, job_id, timeout=60)
    assert body["status"] == "failed"
    assert body["error_code"] == "time_limit_exceeded"
    assert "time limit of 3 s" in body["error"]
