"""Multiprocess metrics with real processes: two API processes on one port each count what they
serve and either one's /metrics shows both (and what a killed one counted); a Celery worker's
job counters show in the API's /metrics though the API ran no job; the server's first process
clears what earlier runs left, and only that."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from pathlib import Path

import httpx
import pytest
from prometheus_client import multiprocess
from prometheus_client.mmap_dict import MmapedDict, mmap_key
from scrapes import TOKEN, json_lines, scrape, value

from factories import make_pdf
from jobs.celery_cluster import Cluster
from procs import kill_group, poll_job, start_server
from profai.observability import metrics
from support import ADMIN_HEADERS, wait_until

pytestmark = pytest.mark.slow
REQUESTS = 40


def _serve_children(pid: int) -> list[int]:
    """The API processes the first one started (`... profai.cli serve` children)."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        for child in (task / "children").read_text().split():
            with contextlib.suppress(OSError):
                if " serve " in Path(f"/proc/{child}/cmdline").read_text().replace("\0", " "):
                    found.append(int(child))
    return found


def _own_count(folder: Path, pid: int, route: str) -> float:
    """What one process alone counted for `route`, from its own file."""
    families = multiprocess.MultiProcessCollector.merge([str(folder / f"counter_{pid}.db")], accumulate=False)
    return sum(s.value for f in families for s in f.samples
               if s.name == "profai_http_requests_total" and s.labels.get("route") == route)


def _leftover(folder: Path, pid: int) -> Path:
    """A counter file as a process `pid` of an earlier run would have left it."""
    path = folder / f"counter_{pid}.db"
    values = MmapedDict(str(path))
    values.write_value(mmap_key("profai_rows_embedded", "profai_rows_embedded_total", [], [], "rows"), 1000.0, 0.0)
    values.close()
    return path


def _open_sockets(folder: Path, pid: int, count: float) -> Path:
    """A live gauge file of process `pid` counting `count` open chat WebSockets."""
    path = folder / f"gauge_livesum_{pid}.db"
    gauge = MmapedDict(str(path))
    gauge.write_value(mmap_key("profai_websocket_sessions_open", "profai_websocket_sessions_open", ["route"],
                               ["/ws/chat"], "open"), count, 0.0)
    gauge.close()
    return path


def test_every_api_process_is_counted_and_a_dead_ones_counts_stay(tmp_path):
    folder = tmp_path / "metrics"
    folder.mkdir()
    dead = _leftover(folder, _pid_of_finished())
    alive = _leftover(folder, os.getpid())  # a live process (say, a worker started first) keeps its file
    env = {"PROFAI_DATA_DIR": str(tmp_path / "data"), "API_PROCESSES": "2", "METRICS_TOKEN": TOKEN,
           "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    server, base = start_server(env, tmp_path / "server.log")
    try:
        assert not dead.exists() and alive.exists()
        (helper,) = wait_until(lambda: _serve_children(server.pid), interval=0.2, message="the second API process")
        # Its counter file appears at import, before it listens: wait until it has answered a request.
        wait_until(lambda: httpx.get(f"{base}/health", timeout=5).status_code == 200 and
                   (folder / f"counter_{helper}.db").exists() and _own_count(folder, helper, "/health") > 0,
                   interval=0.2, message="the second API process to serve")
        for _ in range(REQUESTS):  # a connection each: the kernel spreads them over both processes
            with httpx.Client(headers=ADMIN_HEADERS) as client:
                assert client.get(f"{base}/api/courses", timeout=10).status_code == 200
        samples = scrape(base)
        assert value(samples, "profai_http_requests_total", route="/api/courses", status="200") == REQUESTS
        mine, its = _own_count(folder, server.pid, "/api/courses"), _own_count(folder, helper, "/api/courses")
        assert mine > 0 and its > 0 and mine + its == REQUESTS
        assert value(samples, "profai_rows_embedded_total") == 1000  # the live process's file is summed in

        os.kill(helper, signal.SIGKILL)  # restarted by the first process; what it counted stays
        wait_until(lambda: [p for p in _serve_children(server.pid) if p != helper], interval=0.2,
                   message="the killed API process to be started again")
        assert value(scrape(base), "profai_http_requests_total", route="/api/courses", status="200") == REQUESTS
    finally:
        kill_group(server, signal.SIGTERM)


def _pid_of_finished() -> int:
    """The pid of a process that has ended (and been reaped)."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


@pytest.mark.services
def test_a_celery_workers_jobs_and_json_lines_reach_the_api(tmp_path, pg_databases, chroma_server_url):
    cluster = Cluster(tmp_path, pg_databases(), chroma_server_url, LOG_FORMAT="json", METRICS_TOKEN=TOKEN)
    try:
        cluster.worker(concurrency=1)
        base = cluster.server()
        before = scrape(base)
        request_id = "celery-upload-42"
        pdf = make_pdf(tmp_path / "biology.pdf")
        with pdf.open("rb") as f:
            resp = httpx.post(f"{base}/api/upload-pdfs", data={"course_title": "Biology"}, timeout=30,
                              files={"files": (pdf.name, f, "application/pdf")},
                              headers={**ADMIN_HEADERS, "X-Request-ID": request_id})
        assert resp.status_code == 202, resp.text
        job = poll_job(base, resp.json()["job_id"], timeout=240)
        assert job["status"] == "completed", job
        after = scrape(base)
        # The API process ran no job (JOB_RUNNER=celery): these come from the worker's pool child.
        assert value(after, "profai_job_runs_total", kind="course", outcome="completed") - \
            value(before, "profai_job_runs_total", kind="course", outcome="completed") == 1
        assert value(after, "profai_passages_embedded_total") - value(before, "profai_passages_embedded_total") \
            == job["result"]["passages"]
        assert value(after, "profai_job_step_duration_seconds_count", kind="course", step="indexing") >= 1

        worker_lines = json_lines(tmp_path / "worker-0.log")  # the banner is off: every line is JSON
        assert any("ready." in line["message"] for line in worker_lines)
        job_lines = [line for line in worker_lines if line["job_id"] == job["job_id"]]
        assert job_lines and {line["request_id"] for line in job_lines} == {request_id}
        assert any(line["process"] != worker_lines[0]["process"] for line in job_lines)  # the pool child's
        api_lines = json_lines(tmp_path / "server-1.log")
        assert any(line["request_id"] == request_id and line["message"] == f"job {job['job_id']} queued"
                   for line in api_lines)
    finally:
        cluster.close()


def test_a_dead_processes_live_gauges_are_dropped_at_the_scrape(tmp_path):
    """Open WebSockets of a killed API process must not stay open for ever: live gauges of pids
    that no longer run are marked dead (multiprocess.mark_process_dead); counters stay."""

    dead, alive = _pid_of_finished(), os.getpid()
    dead_gauge, live_gauge = _open_sockets(tmp_path, dead, 1.0), _open_sockets(tmp_path, alive, 1.0)
    counter = _leftover(tmp_path, dead)
    metrics.mark_dead(tmp_path)
    assert not dead_gauge.exists()
    assert live_gauge.exists() and counter.exists()


def test_a_restarted_server_drops_the_live_gauges_its_own_pid_left(tmp_path):
    """In a container started again the server gets the pid it had: the open sockets counted
    under that pid in the earlier run must not count as its own; its counters stay."""
    me = os.getpid()
    gauge = _open_sockets(tmp_path, me, 3.0)
    counter = _leftover(tmp_path, me)
    metrics.wipe_stale(tmp_path)
    assert not gauge.exists() and counter.exists()
