"""Path and query parameters for ids: a number past what the database's id columns hold is refused
with 422 here instead of overflowing a query; string ids are bounded too."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

from profai.domain import MAX_ID

CourseId = Annotated[int, Path(ge=1, le=MAX_ID)]
LessonId = Annotated[int, Path(ge=1, le=MAX_ID)]
UserId = Annotated[int, Path(ge=1, le=MAX_ID)]
KeyId = Annotated[int, Path(ge=1, le=MAX_ID)]
QuizId = Annotated[str, Path(max_length=64)]
ChatSessionId = Annotated[str, Path(max_length=64)]
