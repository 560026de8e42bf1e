"""Killing the embedded server mid-job and starting it again finishes every job exactly once."""

from __future__ import annotations

import signal

import pytest

from procs import kill_group, poll_job, start_server
from profai.pipelines.pdf_to_course import course_collection
from profai.stores.vectors import ChromaVectorStore
from support import R_MANUALS, admin_http

pytestmark = pytest.mark.slow


def _upload(base: str, pdf, title: str) -> str:
    with pdf.open("rb") as f:
        resp = admin_http.post(f"{base}/api/upload-pdfs", data={"course_title": title},
                          files={"files": (pdf.name, f, "application/pdf")}, timeout=30)
    assert resp.status_code == 202, resp.text
    return resp.json()["job_id"]


def _wait_processing(base: str, job_id: str, timeout: float = 60) -> None:
    poll_job(base, job_id, timeout, until=lambda body: body["status"] == "processing" and body["progress"] >= 20)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_restart_mid_job_finishes_every_job_once(tmp_path, sig):
    pdf = R_MANUALS / "R-intro.pdf"
    data = tmp_path / "data"
    env = {"PROFAI_DATA_DIR": str(data), "MAX_WORKERS": "2", "JOB_LEASE_SECONDS": "20",
           "JOB_HEARTBEAT_SECONDS": "2", "REAPER_INTERVAL_SECONDS": "1"}
    log = tmp_path / "server.log"
    server, base = start_server(env, log)
    try:
        jobs = [_upload(base, pdf, f"R intro {n}") for n in range(3)]
        _wait_processing(base, jobs[0])
    finally:
        kill_group(server, sig)

    server, base = start_server(env, log)
    try:
        results = {j: poll_job(base, j, timeout=240) for j in jobs}
        for body in results.values():
            assert body["status"] == "completed", body
            assert body["attempts"] <= 2
        courses = admin_http.get(f"{base}/api/courses").json()
        assert courses["total"] == 3  # one course per job, none duplicated
    finally:
        kill_group(server, signal.SIGTERM)
    store = ChromaVectorStore.embedded(data / "chroma")
    for job_id, body in results.items():
        assert store.count(course_collection(job_id)) == body["result"]["passages"]
