"""Helpers shared by tests (fixtures live in conftest.py)."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient

from profai.settings import Settings

R_MANUALS = Path("/usr/share/R/doc/manual")


def make_settings(data_dir: Path, **overrides) -> Settings:
    """Settings for a test: its own data dir, short leases, no .env file."""
    values = {"PROFAI_DATA_DIR": data_dir, "ENVIRONMENT": "test", "JOB_LEASE_SECONDS": 6,
              "JOB_HEARTBEAT_SECONDS": 1, "REAPER_INTERVAL_SECONDS": 1, "MAX_WORKERS": 2}
    values.update(overrides)
    return Settings(_env_file=None, **values)


def wait_job(client: TestClient, job_id: str, timeout: float = 120) -> dict:
    """Poll the status URL until the job finishes; checks that progress never goes down."""
    deadline, last = time.monotonic() + timeout, -1
    while time.monotonic() < deadline:
        body = client.get(f"/api/jobs/{job_id}").json()
        assert body["progress"] >= last, "progress went down"
        last = body["progress"]
        if body["status"] in ("completed", "partially_completed", "failed", "cancelled"):
            return body
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish in {timeout} s: {body}")
