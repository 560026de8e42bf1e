"""`make stack` for real: deploy/stack.py on free ports with the machine's PostgreSQL and Redis (a
database and a Celery queue of the test's own). A PDF uploaded through nginx becomes a course
built by a Celery worker; Ctrl-C (SIGINT to the supervisor's process group, as a terminal sends
it) stops every process the stack started."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import uuid

import httpx
import pytest
from deploy_support import DEPLOY
from sqlalchemy import create_engine, text

from factories import make_pdf
from procs import alive, command_line, descendants, free_port, kill_group, poll_job
from support import ADMIN_HEADERS, TEST_ADMIN_KEY, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.services]
PG_ADMIN_URL = os.environ.get("PROFAI_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")  # as conftest.py's


@pytest.fixture
def database():
    """A database name no one uses; dropped at the end (the stack creates it)."""
    name = f"profai_stack_test_{uuid.uuid4().hex[:8]}"
    yield name
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_the_stack_builds_a_course_behind_nginx_and_ctrl_c_stops_every_process(tmp_path, database):
    port, api_ports, chroma_port = free_port(), [free_port(), free_port()], free_port()
    log = tmp_path / "stack.log"
    env = {**os.environ, "API_KEY": TEST_ADMIN_KEY, "CELERY_QUEUE": f"test-stack-{uuid.uuid4().hex[:8]}"}
    stack = subprocess.Popen(
        [sys.executable, str(DEPLOY / "stack.py"), "--port", str(port), "--api-ports", ",".join(map(str, api_ports)),
         "--chroma-port", str(chroma_port), "--data-dir", str(tmp_path / "stack"), "--database", database,
         "--postgres", PG_ADMIN_URL.replace("+psycopg", "").rsplit("/", 1)[0]],
        env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    output = lambda: log.read_text(errors="replace")  # noqa: E731
    try:
        def up() -> bool:
            assert stack.poll() is None, f"the stack stopped:\n{output()[-5000:]}"
            return f"ProfAI is up: {url}/" in output()

        wait_until(up, timeout=240, interval=0.5, message=lambda: f"the stack to start:\n{output()[-5000:]}")
        assert f"created database {database}" in output()
        started = descendants(stack.pid)
        commands = [command_line(pid) for pid in started]
        for expected in ("nginx: master process", "chroma run", f"serve --host 127.0.0.1 --port {api_ports[0]}",
                         f"serve --host 127.0.0.1 --port {api_ports[1]}"):
            assert any(expected in c for c in commands), (expected, commands)
        assert sum(c.endswith("profai.cli worker --concurrency 1") for c in commands) >= 2, commands

        pdf = make_pdf(tmp_path / "biology.pdf")
        with pdf.open("rb") as f:
            resp = httpx.post(f"{url}/api/upload-pdfs", headers=ADMIN_HEADERS, data={"course_title": "Biology"},
                              files={"files": (pdf.name, f, "application/pdf")}, timeout=60)
        assert resp.status_code == 202, resp.text
        job_id = resp.json()["job_id"]
        job = poll_job(url, job_id, timeout=240)
        assert job["status"] == "completed", job
        course = httpx.get(f"{url}/api/courses/{job['result']['course_id']}", headers=ADMIN_HEADERS, timeout=10)
        assert course.status_code == 200 and course.json()["title"] == "Biology"
        # The job ran in a Celery worker (honcho prefixes each line with its process's name).
        assert re.search(rf"^\S+ worker\d +\| .*job {job_id}: completed", output(), re.M), output()[-5000:]
        for api_port in api_ports:  # both API processes stand behind nginx
            assert httpx.get(f"http://127.0.0.1:{api_port}/health", timeout=5).status_code == 200

        started = descendants(stack.pid)
        os.killpg(stack.pid, signal.SIGINT)  # Ctrl-C: the terminal signals the foreground process group
        stack.wait(timeout=60)
        wait_until(lambda: not [pid for pid in started if alive(pid)], timeout=30, interval=0.2,
                   message=lambda: f"every process to stop: {[command_line(p) for p in started if alive(p)]}")
        assert "SIGINT received" in output()
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{url}/nginx-health", timeout=5)
    finally:
        leftovers = descendants(stack.pid) if stack.poll() is None else set()
        kill_group(stack)
        for pid in leftovers:  # each child runs in a session of its own
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
