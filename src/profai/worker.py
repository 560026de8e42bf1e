"""The distributed runner, worker side: the one task, process hooks, and a reaper loop in every
worker. `profai worker` runs this; `celery -A profai.worker` works too (Flower)."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import uuid
from datetime import timedelta
from pathlib import Path

from celery import Task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import setup_logging, worker_process_init, worker_ready, worker_shutting_down

from profai.db import jobs_repo
from profai.db.engine import session_scope
from profai.db.models import utcnow
from profai.errors import transient
from profai.jobs import execute
from profai.jobs.celery_runner import TASK, CeleryRunner, make_celery
from profai.jobs.reaper import OrphanSweeps, reap_once
from profai.jobs.registry import load_kinds
from profai.observability import logs
from profai.settings import get_settings
from profai.wiring import Container, build_container

log = logging.getLogger(__name__)

app = make_celery(get_settings())
execute.TIME_LIMIT_ERRORS += (SoftTimeLimitExceeded,)

_ctx: Container | None = None  # this process's wiring, built after fork
_runner: CeleryRunner | None = None
_stopping = threading.Event()  # set when the worker shuts down: running jobs hand themselves back


def _container() -> tuple[Container, CeleryRunner]:
    global _ctx, _runner
    if _ctx is None or _runner is None:
        _ctx = build_container(get_settings(), runner="none", compute_processes=0)
        _runner = _ctx.runner = CeleryRunner(_ctx, app)
        load_kinds(_ctx.settings.plugins)
    return _ctx, _runner


# A message whose turn fails on a passing fault (the database dropped while a fresh pool child
# sets itself up, say) is sent again this soon, this many times, rather than consumed for nothing:
# its job would otherwise wait for the reaper's resend, a lease and a reaper interval later.
TURN_RETRY_SECONDS, TURN_RETRIES = 2, 10


@app.task(name=TASK, acks_late=True, bind=True)
def execute_job_task(self: Task, job_id: str) -> str:
    """Thin: a message is a turn to run a job, and the turn goes to the oldest pending job - the one
    it names, unless a job created before it was requeued meanwhile, which keeps its place in line
    instead of waiting behind the backlog. Every pending job has a message of its own, so none is
    left behind; a redelivered or duplicate message (a job already running or settled) finds
    nothing to claim, or runs a job whose own message then finds nothing."""
    try:
        ctx, runner = _container()
        ran, outcome = execute.execute_next(ctx, execute.owner_id("celery"), stopping=_stopping)
    except Exception as exc:
        if transient(exc) is None:
            raise
        # Safe to send again: a message is only a turn, and a turn that finds nothing does nothing.
        log.warning("message for job %s: %s; sent again in %d s", job_id, transient(exc), TURN_RETRY_SECONDS)
        raise self.retry(countdown=TURN_RETRY_SECONDS, max_retries=TURN_RETRIES) from None
    if ran is not None and outcome in ("released", "requeued"):
        runner.submit(ran)  # its turn was used: it needs a message again
    log.info("message for job %s: %s", job_id, f"ran job {ran}: {outcome}" if ran else "no job waiting")
    return outcome


def _json_logging(loglevel: int | str | None = None, **_: object) -> None:
    """LOG_FORMAT=json: Celery leaves logging to us (it does when anyone answers this signal), and
    its pool children inherit it; their job lines carry the job's and its request's ids."""
    logs.configure("json", loglevel or logging.INFO)


if get_settings().log_format == "json":
    logs.configure("json")  # already now: Celery warns (of running as root, say) before it sets up logging
    setup_logging.connect(_json_logging, weak=False)


@worker_process_init.connect
def _child_started(**_: object) -> None:
    """A fresh pool child: never reuse the parent's connections; SIGUSR2 means hand the job back
    (billiard already uses SIGUSR1 for soft time limits)."""
    global _ctx
    if _ctx is not None:
        _ctx.engine.dispose(close=False)  # the parent's pooled sockets stay the parent's
        _ctx = None
    signal.signal(signal.SIGUSR2, lambda *_: _stopping.set())


@worker_shutting_down.connect
def _shutting_down(**_: object) -> None:
    """Warm shutdown would wait for running tasks; tell the children to hand their jobs back."""
    _stopping.set()
    for pid in _child_pids():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGUSR2)


def _child_pids() -> list[int]:
    pids: list[int] = []
    for task in Path(f"/proc/{os.getpid()}/task").glob("*"):
        with contextlib.suppress(OSError):
            pids += [int(p) for p in (task / "children").read_text().split()]
    return pids


@worker_ready.connect
def _start_reaper(**_: object) -> None:
    threading.Thread(target=_reap_forever, name="profai-reaper", daemon=True).start()


def _reap_forever() -> None:
    ctx, runner = _container()
    interval = ctx.settings.reaper_interval
    orphans = OrphanSweeps(ctx)
    while not _stopping.wait(interval):
        try:
            sweep(ctx, runner)
        except Exception:
            log.warning("reaper sweep failed", exc_info=True)
        orphans.tick()


def sweep(ctx: Container, runner: CeleryRunner) -> None:
    """Requeue jobs of dead workers, fail poison jobs, and resend pending jobs whose message the
    broker lost (a Redis restart without persistence loses its queue)."""
    reap_once(ctx)
    with session_scope(ctx.sessions) as session:
        stale = jobs_repo.stale_pending(session, utcnow() - timedelta(seconds=ctx.settings.lease_seconds))
        if stale and runner.queue_depth() < len(stale):
            jobs_repo.touch(session, stale)
        else:
            stale = []
    for job_id in stale:
        runner.submit(job_id)


def main(concurrency: int, loglevel: str = "INFO") -> None:
    """Run a worker with a unique node name, so several can share one host."""
    name = f"profai-{uuid.uuid4().hex[:6]}@%h"
    quiet = ["--quiet"] if get_settings().log_format == "json" else []  # no banner amid the JSON lines
    app.worker_main([*quiet, "worker", f"--concurrency={concurrency}", f"--loglevel={loglevel}", "-n", name,
                     "-Q", get_settings().celery_queue, "--without-gossip", "--without-mingle"])
