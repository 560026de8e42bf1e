"""Job kinds that misbehave on purpose, loaded into workers with PROFAI_PLUGINS=fault_plugins.

"crash" kills the process running it (a poison job); "sleep" runs for payload["seconds"],
reporting progress, so tests can interrupt it or let it pass its time limit."""

from __future__ import annotations

import os
import signal
import time

from profai.jobs.registry import JobKind, register


def _crash(job, ctx):
    job.progress(10, "About to crash")
    os.kill(os.getpid(), signal.SIGKILL)


def _sleep(job, ctx):
    seconds = float(job.payload.get("seconds", 1))
    started = time.monotonic()
    while (elapsed := time.monotonic() - started) < seconds:
        job.progress(100 * elapsed / seconds, f"Slept {elapsed:.1f} s")
        time.sleep(0.2)
    return {"slept": seconds, "pid": os.getpid()}


def _nothing(job_id, payload, ctx):
    """Nothing to clean up."""


register("crash", JobKind(run=_crash, cleanup=_nothing))
register("sleep", JobKind(run=_sleep, cleanup=_nothing))
