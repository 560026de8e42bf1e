"""A Celery message is a turn to run a job: one that meets a passing fault before it gets to run
anything (the database dropped while a fresh pool child sets itself up) is sent again at once,
not consumed for nothing; other errors are not retried."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError

from profai import worker
from profai.errors import transient


def _dropped() -> OperationalError:
    return OperationalError("SELECT 1", {}, ConnectionRefusedError(111, "Connection refused"))


@pytest.fixture
def turns(monkeypatch):
    """Make the task's container fail with each error of `faults` in turn, then run nothing."""
    faults: list[Exception] = []
    calls: list[int] = []

    def container():
        calls.append(1)
        if faults:
            raise faults.pop(0)
        return object(), object()

    monkeypatch.setattr(worker, "_container", container)
    monkeypatch.setattr(worker.execute, "execute_next", lambda *a, **k: (None, "idle"))
    monkeypatch.setattr(worker, "TURN_RETRY_SECONDS", 0)
    return faults, calls


def test_a_turn_that_meets_a_dropped_database_is_sent_again(turns):
    faults, calls = turns
    assert transient(_dropped())  # what the chaos run saw: psycopg's refused connection
    faults += [_dropped(), _dropped()]
    result = worker.execute_job_task.apply(args=["job-1"])
    assert result.get() == "idle" and len(calls) == 3


def test_any_other_error_is_not_retried(turns):
    faults, calls = turns
    faults.append(ValueError("a bug"))
    result = worker.execute_job_task.apply(args=["job-1"])
    assert result.failed() and isinstance(result.result, ValueError) and len(calls) == 1
