"""The compute pool starts its processes with the runner, before any job, at a lower priority."""

from __future__ import annotations

import multiprocessing
import os
import time

from profai.jobs.compute import ComputePool
from support import make_settings


def test_start_spawns_every_process_before_any_job_and_they_lower_their_priority(tmp_path):
    pool = ComputePool(make_settings(tmp_path / "data"), processes=2)
    before = {p.pid for p in multiprocessing.active_children()}
    try:
        pool.start()
        deadline = time.monotonic() + 60
        while True:
            new = [p.pid for p in multiprocessing.active_children() if p.pid not in before]
            niced = [pid for pid in new if os.getpriority(os.PRIO_PROCESS, pid) > os.getpriority(os.PRIO_PROCESS, 0)]
            if len(niced) == 2:
                break
            assert time.monotonic() < deadline, f"processes {new}, niced {niced}"
            time.sleep(0.1)
        assert pool.call(os.getpid) in niced  # the work goes to them
    finally:
        pool.shutdown()
