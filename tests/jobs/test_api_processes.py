"""Several API processes on one port (API_PROCESSES=2), as real processes: the first runs the
jobs and serves the vector store to the other through a Chroma server child; a child that dies
is started again; all of them (compute processes too) die with the first."""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

import httpx
import pytest

from factories import make_pdf
from procs import kill_group, poll_job, start_server
from support import ADMIN_HEADERS, wait_until

pytestmark = pytest.mark.slow


def _listeners(port: int) -> int:
    """Sockets listening on the port (state 0A in /proc/net/tcp)."""
    lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(1 for line in lines if line.split()[1].endswith(f":{port:04X}") and line.split()[3] == "0A")


def _children(pid: int) -> dict[int, str]:
    """The process's children and their command lines."""
    out = {}
    for task in Path(f"/proc/{pid}/task").glob("*"):
        for child in (task / "children").read_text().split():
            with contextlib.suppress(OSError):
                out[int(child)] = Path(f"/proc/{child}/cmdline").read_text().replace("\0", " ")
    return out


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def _upload(base: str, pdf: Path, title: str) -> str:
    with httpx.Client(headers=ADMIN_HEADERS) as client, pdf.open("rb") as f:  # a connection per request: the kernel spreads them
        resp = client.post(f"{base}/api/upload-pdfs", data={"course_title": title},
                           files={"files": (pdf.name, f, "application/pdf")}, timeout=30)
    assert resp.status_code == 202, resp.text
    return resp.json()["job_id"]


def _ask(base: str, course_id: str) -> dict:
    with httpx.Client(headers=ADMIN_HEADERS) as client:
        resp = client.post(f"{base}/api/chat", json={"course_id": course_id, "question": "What do chloroplasts contain?"},
                           timeout=30)
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_api_processes_share_the_port_the_jobs_and_the_vectors(tmp_path):
    env = {"PROFAI_DATA_DIR": str(tmp_path / "data"), "API_PROCESSES": "2", "MAX_WORKERS": "2"}
    server, base = start_server(env, tmp_path / "server.log")
    port = int(base.rsplit(":", 1)[1])
    try:
        wait_until(lambda: _listeners(port) == 2, interval=0.2, message="the second API process to listen")
        (helper,) = [pid for pid, cmd in _children(server.pid).items() if " serve " in cmd]
        assert any("chroma run" in cmd for cmd in _children(server.pid).values())
        helper_cpu = _cpu_ticks(helper)

        pdf = make_pdf(tmp_path / "biology.pdf")
        jobs = [_upload(base, pdf, f"Biology {n}") for n in range(6)]
        bodies = [poll_job(base, job_id, timeout=180) for job_id in jobs]
        assert [b["status"] for b in bodies] == ["completed"] * 6, bodies
        course_id = bodies[0]["result"]["course_id"]
        for _ in range(6):
            answer = _ask(base, course_id)
            assert answer["sources"] and "chlorophyll" in answer["answer"].lower()
        assert _cpu_ticks(helper) > helper_cpu  # the second process took its share

        os.kill(helper, signal.SIGKILL)
        # Connections the kernel had already queued on the dying process's socket are reset (one
        # socket each with SO_REUSEPORT); once it is gone, every new one reaches the first.
        wait_until(lambda: not _alive(helper), timeout=10, interval=0.2, message="the killed API process to exit")
        for _ in range(5):  # the first process answers alone meanwhile (a new connection each: a pooled
            # keep-alive one may have been accepted by the killed process, and is reset with it)
            with httpx.Client(headers=ADMIN_HEADERS) as client:
                assert client.get(f"{base}/api/courses", timeout=10).json()["total"] == 6
        wait_until(lambda: [pid for pid, cmd in _children(server.pid).items() if " serve " in cmd and pid != helper]
                   and _listeners(port) == 2, interval=0.2, message="the killed API process to be started again")
        assert _ask(base, course_id)["sources"]

        children = list(_children(server.pid))
        os.kill(server.pid, signal.SIGKILL)  # the first process alone: its children follow it
        server.wait(10)
        wait_until(lambda: not any(_alive(pid) for pid in children), timeout=30, interval=0.2,
                   message="the server's children to follow it")
        assert _listeners(port) == 0
    finally:
        kill_group(server)
