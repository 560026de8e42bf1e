"""The embedded runner: MAX_WORKERS threads in the server claim pending jobs from the database
in creation order (a requeued job keeps its place); heavy steps go to the compute pool. A reaper thread requeues jobs whose
worker died, including those of a previous run of this server (killed mid-job)."""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Any

from profai.db import jobs_repo
from profai.db.engine import session_scope
from profai.jobs.deps import JobDeps
from profai.jobs.execute import execute_next, owner_id
from profai.jobs.reaper import OrphanSweeps, reap_once
from profai.jobs.registry import load_kinds

log = logging.getLogger(__name__)


class LocalRunner:
    name = "local"

    def __init__(self, deps: JobDeps) -> None:
        self.deps = deps
        self.boot = uuid.uuid4().hex[:8]
        self._wake = threading.Condition()
        self._pending_signal = 0
        self.stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self.running: dict[str, str] = {}  # thread name -> job id

    def _tag(self, n: int | str) -> str:
        return f"local-{self.boot}-{n}"

    def start(self) -> None:
        if self._threads:
            return
        self.deps.compute.start()
        # Every kind, and the plugins that add or replace one, before the first job runs (as a
        # Celery worker does): a plugin loaded on a miss could never replace a built-in kind.
        load_kinds(self.deps.settings.plugins)
        # Jobs owned by a previous run of this server (same host, dead pid or older boot) go back now.
        reap_once(self.deps, alive_tags={self._tag(n) for n in range(self.deps.settings.max_workers)})
        for n in range(self.deps.settings.max_workers):
            t = threading.Thread(target=self._work, args=(n,), name=f"job-worker-{n}", daemon=True)
            t.start()
            self._threads.append(t)
        reaper = threading.Thread(target=self._reap, name="job-reaper", daemon=True)
        reaper.start()
        self._threads.append(reaper)

    def submit(self, job_id: str) -> None:
        """Wake a worker thread; the job row is already committed."""
        with self._wake:
            self._pending_signal += 1
            self._wake.notify()

    def stop(self, timeout: float = 30) -> None:
        """Ask running jobs to hand themselves back to the queue, then wait for the threads."""
        self.stopping.set()
        with self._wake:
            self._wake.notify_all()
        for t in self._threads:
            t.join(timeout=timeout)
        self._threads = []

    def _work(self, n: int) -> None:
        owner = owner_id(self._tag(n))
        name = threading.current_thread().name

        def claimed(job_id: str) -> None:
            self.running[name] = job_id

        while not self.stopping.is_set():
            try:
                job_id, outcome = execute_next(self.deps, owner, stopping=self.stopping, on_claim=claimed)
            except Exception:  # the database is down, say: the reaper requeues a job it left running
                log.warning("local runner: job %s: runner error", self.running.get(name, "(none claimed)"),
                            exc_info=True)
                job_id, outcome = None, "error"
            finally:
                self.running.pop(name, None)
            if job_id is not None:
                log.info("job %s: %s", job_id, outcome)
                continue
            with self._wake:
                if self._pending_signal == 0:
                    self._wake.wait(timeout=1.0)
                self._pending_signal = max(0, self._pending_signal - 1)

    def _reap(self) -> None:
        orphans = OrphanSweeps(self.deps)
        while not self.stopping.wait(self.deps.settings.reaper_interval):
            try:
                reap_once(self.deps)
            except Exception:
                log.warning("reaper sweep failed", exc_info=True)
            orphans.tick()

    def ping(self) -> None:
        """The queue is the job table: reachable whenever the database is."""

    def stats(self) -> dict[str, Any]:
        return {
            "runner": self.name,
            "workers": [{"name": f"local-{self.boot}", "threads": self.deps.settings.max_workers, "alive": True}],
            "running_jobs": sorted(self.running.values()),
        }


class PolledQueue:
    """The runner of an API process beside the one that runs the jobs (API_PROCESSES > 1): the
    committed row is the whole hand-off, since that process's LocalRunner polls the table."""

    name = "local"

    def __init__(self, deps: JobDeps) -> None:
        self.deps = deps

    def start(self) -> None:
        pass

    def stop(self, timeout: float = 30) -> None:
        pass

    def submit(self, job_id: str) -> None:
        pass  # picked up at the runner's next poll, within a second

    def ping(self) -> None:
        """The queue is the job table: reachable whenever the database is."""

    def stats(self) -> dict[str, Any]:
        with session_scope(self.deps.sessions) as session:
            running = [job_id for job_id, _ in jobs_repo.running_owners(session)]
        return {"runner": self.name, "workers": [], "running_jobs": sorted(running)}
