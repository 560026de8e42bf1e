"""What a running job sees of itself: id, inputs, and a way to report progress (it is the
pipelines' Progress)."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from profai.db import jobs_repo
from profai.errors import LeaseLost, PartTimeout
from profai.pipelines.progress import Step


def owner_id(tag: str) -> str:
    """host:pid:tag, so a reaper on the same host can tell a dead owner from a live one."""
    return f"{socket.gethostname()}:{os.getpid()}:{tag}"


class Interrupted(Exception):
    """The process is shutting down: hand the job back to the queue."""


@dataclass
class JobHandle:
    id: str
    kind: str
    payload: dict[str, Any]
    attempt: int
    # Writes progress, message and step to the job row; returns False when the lease is gone.
    _report: Callable[[int, str, Step | None], bool]
    soft_timeout: float
    owner: str = ""  # the worker holding the lease (host:pid:tag)
    user_id: int | None = None  # the user who started the job; what it makes is theirs
    lease_seconds: float = 60.0
    stopping: threading.Event = field(default_factory=threading.Event)
    lost: threading.Event = field(default_factory=threading.Event)
    started: float = field(default_factory=time.monotonic)

    @property
    def deadline(self) -> float:
        """The soft time limit as a time.monotonic() value: no call may run past it."""
        return self.started + self.soft_timeout

    def check(self) -> None:
        """Raise if the job must stop: lease lost or cancelled, shutdown, or past its soft limit."""
        if self.lost.is_set():
            raise LeaseLost(self.id)
        if self.stopping.is_set():
            raise Interrupted(self.id)
        if time.monotonic() - self.started > self.soft_timeout:
            raise PartTimeout(f"Job exceeded its time limit of {self.soft_timeout:.0f} s")

    def progress(self, percent: float, message: str, step: Step | None = None) -> None:
        """Record progress (0-100, never lower than before), a human message and the step under way."""
        self.check()
        if not self._report(int(max(0, min(100, percent))), message, step):
            self.lost.set()
            raise LeaseLost(self.id)

    def confirm(self, session: Session) -> None:
        """Inside the transaction that saves the result: fail it unless we still hold the job, so a
        cancelled or reaped job never leaves a result behind."""
        if not jobs_repo.heartbeat(session, self.id, self.owner, self.lease_seconds):
            self.lost.set()
            raise LeaseLost(self.id)
