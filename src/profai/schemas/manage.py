"""Managing a course: its new title."""

from __future__ import annotations

from pydantic import BaseModel, Field

from profai.schemas.rules import NOT_BLANK, RequestModel

MAX_TITLE = 300  # services.courses.MAX_TITLE: the service checks it (course_title_too_long)


class CourseRename(RequestModel):
    title: str = Field(description="The course's new title; runs of whitespace become one space",
                       json_schema_extra={"maxLength": MAX_TITLE, "pattern": NOT_BLANK})


class CourseTitle(BaseModel):
    id: int
    course_id: int
    title: str
    course_title: str
