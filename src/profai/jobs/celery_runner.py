"""The distributed runner, API side: queue job ids on Celery (Redis), report on the workers.

The Celery settings here are the ones the crash tests justify (tests/jobs/test_celery_workers.py).
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery

from profai.db import jobs_repo
from profai.db.engine import session_scope
from profai.jobs.deps import JobDeps
from profai.settings import Settings

log = logging.getLogger(__name__)

TASK = "profai.execute_job"


def make_celery(s: Settings) -> Celery:
    app = Celery("profai", broker=s.broker_url)
    app.conf.update(
        # Ack after the task ran, and requeue when a child dies, so no message is lost to a crash;
        # the job's lease (not the message) decides who runs it, so a redelivery cannot run it twice,
        # and the task runs the oldest pending job (not the one it names), so a requeued job keeps
        # its place in line (profai/worker.py).
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,  # a busy child does not sit on jobs another worker could run
        task_time_limit=s.task_timeout,
        task_soft_time_limit=s.task_soft_timeout,
        broker_transport_options=transport_options(s),
        worker_max_memory_per_child=s.worker_max_memory_mb * 1024,  # KiB
        task_default_queue=s.celery_queue,
        task_ignore_result=True,  # outcomes live in the job row
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,  # ride out a Redis restart
        worker_send_task_events=True,  # for Flower
        task_send_sent_event=True,
        worker_hijack_root_logger=False,
    )
    return app


def transport_options(s: Settings) -> dict[str, Any]:
    """How Redis gives back the messages of killed workers. A delivered message stays in an
    unacked set until its task ends; kombu puts it back in the queue once it is older than the
    visibility timeout (CELERY_VISIBILITY_TIMEOUT, default twice the job lease), looking every
    CELERY_RESTORE_INTERVAL_SECONDS. A short timeout is safe because the job's lease decides who
    runs a job: the copy of a running job's message finds nothing to claim. The reaper requeues
    a dead worker's job and sends a fresh message after the lease anyway, so restoring is the
    backstop for a message that was taken but never started; with the 2,400 s timeout of old,
    those stayed in Redis for 40 minutes."""
    prefix = s.celery_queue
    return {
        "visibility_timeout": s.celery_visibility_timeout,
        "unacked_restore_interval": s.celery_restore_interval,
        "unacked_restore_throttle": 1,  # scan at every restore tick (kombu's default: every 10th)
        # An unacked set per queue: one deployment's timeout never hands back another's messages
        # when several share a Redis database.
        "unacked_key": f"{prefix}.unacked",
        "unacked_index_key": f"{prefix}.unacked_index",
        "unacked_mutex_key": f"{prefix}.unacked_mutex",
    }


class CeleryRunner:
    name = "celery"

    def __init__(self, deps: JobDeps, app: Celery | None = None) -> None:
        self.deps = deps
        self.app = app or make_celery(deps.settings)

    def start(self) -> None:
        """Nothing runs in the API process; workers are `profai worker` processes."""

    def stop(self, timeout: float = 0) -> None:
        self.app.close()

    def submit(self, job_id: str) -> None:
        """Queue the job id; if the broker is down the job stays pending and a reaper resends it."""
        try:
            self.app.send_task(TASK, args=[job_id], queue=self.deps.settings.celery_queue,
                               retry=True,
                               retry_policy={"max_retries": 3, "interval_start": 0.2, "interval_step": 0.5})
        except Exception:
            log.warning("could not queue job %s now; the reaper will resend it", job_id, exc_info=True)

    def queue_depth(self) -> int:
        with self.app.connection_for_write() as conn:
            return int(conn.default_channel.client.llen(self.deps.settings.celery_queue))

    def ping(self) -> None:
        with self.app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1)

    def stats(self) -> dict[str, Any]:
        replies = self.app.control.inspect(timeout=1.0)
        pings = replies.ping() or {}
        active = replies.active() or {}
        with session_scope(self.deps.sessions) as session:
            running = jobs_repo.running_owners(session)
        try:
            depth: int | None = self.queue_depth()
        except Exception:
            depth = None
        return {
            "runner": self.name,
            "workers": [{"name": name, "alive": True, "active_tasks": len(active.get(name, []))}
                        for name in sorted(pings)],
            "running_jobs": sorted(job_id for job_id, _ in running),
            "queue_depth": depth,
        }
