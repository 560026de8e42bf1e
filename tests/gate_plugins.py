"""Holds a course job half indexed, loaded into servers with PROFAI_PLUGINS=gate_plugins.

A course job whose title starts with "Held" stops in its indexing step, after its first batch of
passages is stored, until the file named by PROFAI_TEST_GATE exists. A test can then act on a job
caught half done (its course saved, its vectors partly written) every time, however fast or slow
the machine is."""

from __future__ import annotations

import os
import time

from profai.jobs.course_job import INDEXING
from profai.jobs.registry import JobKind, kind_for, register

_course = kind_for("course")


def _held(job, deps):
    if job.payload["course_title"].startswith("Held"):
        report = job.progress

        def progress(percent, message, step=None):
            report(percent, message, step)
            if step is not None and step[0] == INDEXING and step[1] > 0:
                while not os.path.exists(os.environ["PROFAI_TEST_GATE"]):
                    time.sleep(0.1)  # the heartbeat thread keeps the lease meanwhile

        job.progress = progress
    return _course.run(job, deps)


register("course", JobKind(run=_held, cleanup=_course.cleanup, settle=_course.settle))
