"""A real distributed stack for tests: PostgreSQL, Redis, a Chroma server, `profai worker`
processes and `profai serve` API processes, all sharing one data folder for uploads."""

from __future__ import annotations

import signal
import subprocess
import uuid
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from procs import PROFAI, kill_group, poll_job, start_process, start_server
from profai.db import jobs_repo
from profai.db.engine import make_engine, make_session_factory, session_scope
from profai.db.migrate import upgrade
from profai.jobs.celery_runner import TASK, make_celery
from profai.settings import Settings
from support import admin_http, job_row, plugins_env, wait_until


class Cluster:
    def __init__(self, root: Path, pg_url: str, chroma_url: str, **overrides: str):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.env = {
            "DATABASE_URL": pg_url, "JOB_RUNNER": "celery", "CHROMA_URL": chroma_url,
            "REDIS_URL": "redis://127.0.0.1:6379/0", "CELERY_QUEUE": f"test-{uuid.uuid4().hex[:8]}",
            "PROFAI_DATA_DIR": str(root / "data"), **plugins_env("fault_plugins"),
            "JOB_LEASE_SECONDS": "10", "JOB_HEARTBEAT_SECONDS": "1", "REAPER_INTERVAL_SECONDS": "1",
            **overrides,
        }
        self.procs: list[subprocess.Popen] = []
        self._engine: Engine | None = None

    def worker(self, concurrency: int = 1, **env: str) -> subprocess.Popen:
        n = len(self.procs)
        proc = start_process([*PROFAI, "worker", "-c", str(concurrency)], {**self.env, **env},
                             self.root / f"worker-{n}.log")
        self.procs.append(proc)
        self.wait_worker_ready(proc, self.root / f"worker-{n}.log")
        return proc

    def wait_worker_ready(self, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
        def ready() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"worker exited: {log.read_text()[-3000:]}")
            return log.exists() and "ready." in log.read_text(errors="replace")

        wait_until(ready, timeout=timeout, interval=0.2,
                   message=lambda: f"the worker to be ready; log (tail):\n{log.read_text()[-3000:]}")

    def server(self) -> str:
        n = len(self.procs)
        proc, url = start_server(self.env, self.root / f"server-{n}.log")
        self.procs.append(proc)
        return url

    def settings(self) -> Settings:
        """The settings its processes run with."""
        return Settings(_env_file=None, **{k: v for k, v in self.env.items() if k != "PYTHONPATH"})

    def sessions(self) -> sessionmaker[Session]:
        """Sessions on its database, migrated (before or after a process has done it)."""
        if self._engine is None:
            self._engine = make_engine(self.env["DATABASE_URL"])
            upgrade(self._engine)
        return make_session_factory(self._engine)

    def publish(self, job_ids: list[str]) -> list[str]:
        """Send each job's message the way the API does; the Celery task ids."""
        settings = self.settings()
        app = make_celery(settings)
        try:
            return [app.send_task(TASK, args=[job_id], queue=settings.celery_queue).id for job_id in job_ids]
        finally:
            app.close()

    def enqueue(self, kind: str, payload: dict, **kw) -> str:
        """Create a job (of a test kind, say) directly and queue it the way the API does."""
        with session_scope(self.sessions()) as session:
            job_id = jobs_repo.create(session, kind, payload, **kw).id
        self.publish([job_id])
        return job_id

    def close(self) -> None:
        for proc in self.procs:
            kill_group(proc, signal.SIGKILL)
        if self._engine is not None:
            self._engine.dispose()


def upload(base: str, pdf: Path, title: str) -> str:
    with pdf.open("rb") as f:
        resp = admin_http.post(f"{base}/api/upload-pdfs", data={"course_title": title},
                          files={"files": (pdf.name, f, "application/pdf")}, timeout=30)
    assert resp.status_code == 202, resp.text
    return resp.json()["job_id"]


def wait_status(base: str, job_id: str, predicate, timeout: float = 60) -> dict:
    return poll_job(base, job_id, timeout, until=predicate)


def owner_pid(sessions, job_id: str) -> int | None:
    """The pid holding the job's lease (owner is host:pid:tag)."""
    job = job_row(sessions, job_id)
    if job is None or not job.lease_owner:
        return None
    return int(job.lease_owner.split(":")[1])
