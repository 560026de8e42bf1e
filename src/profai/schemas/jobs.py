"""Job responses, in the seed documents' shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy.engine import Row

from profai.db.models import Job


class JobAccepted(BaseModel):
    job_id: str
    status: str
    status_url: str
    message: str


class JobStatus(BaseModel):
    job_id: str
    kind: str
    status: str
    progress: int
    message: str
    # The step under way and its own progress: "indexing" while a readable course is indexed for chat.
    step: str | None = None
    step_progress: int | None = None
    created_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    updated_at: datetime
    attempts: int
    result: dict[str, Any] | None = None
    error: str | None = None
    error_code: str | None = None

    @classmethod
    def of(cls, job: Job | Row) -> JobStatus:
        return cls(
            job_id=job.id, kind=job.kind, status=job.status, progress=job.progress, message=job.message,
            step=job.step, step_progress=job.step_progress,
            created_at=job.created_at, started_at=job.started_at, completed_at=job.completed_at,
            updated_at=job.updated_at, attempts=job.attempts, result=job.result, error=job.error,
            error_code=job.error_code,
        )


def accepted(job: Job, status_url: str, message: str) -> JobAccepted:
    return JobAccepted(job_id=job.id, status=job.status, status_url=status_url, message=message)
