"""Managing a course: its new title; and a job as the live feed reports it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from profai.db.jobs_repo import FINISHED
from profai.schemas.jobs import JobStatus
from profai.schemas.rules import NOT_BLANK, RequestModel
from profai.services.courses import MAX_TITLE


class CourseRename(RequestModel):
    title: str = Field(description="The course's new title; runs of whitespace become one space",
                       json_schema_extra={"maxLength": MAX_TITLE, "pattern": NOT_BLANK})


class CourseTitle(BaseModel):
    id: int
    course_id: int
    title: str
    course_title: str


class JobEvent(JobStatus):
    """A job as GET /api/jobs/{id} shows it, with the title it was given (a course's title, a
    dataset's namespace), the course it made, if any, and whether it has finished."""

    title: str
    course_id: int | None
    finished: bool

    @classmethod
    def of(cls, job: Any) -> JobEvent:
        """`job`: a row of feed_repo.jobs (the status columns and the payload)."""
        payload, result = job.payload or {}, job.result or {}
        title = payload.get("course_title") or payload.get("namespace") or ""
        return cls(**dict(JobStatus.of(job)), title=str(title)[:MAX_TITLE], course_id=result.get("course_id"),
                   finished=job.status in FINISHED)
