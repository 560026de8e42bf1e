"""Chat, quiz and speech requests and responses."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class ChatIn(BaseModel):
    course_id: int
    question: str
    session_id: str | None = None


class Source(BaseModel):
    number: int
    file: str
    page: int
    page_end: int
    quote: str
    score: float
    passage_id: str


class ChatOut(BaseModel):
    answer: str
    sources: list[Source]
    session_id: str
    grounded: bool = Field(description="False when the course does not contain the answer")
    generator: str
    fallback: bool = Field(description="True when the model failed and the extractive backend answered")
    note: str | None = None


class QuizIn(BaseModel):
    questions: int = 5
    difficulty: str = "medium"
    module_id: int | None = None
    seed: int | None = Field(None, description="The same seed gives the same quiz")
    max_attempts: int | None = Field(None, description="Attempts allowed per quiz; none means unlimited")


class QuizQuestion(BaseModel):
    id: str
    prompt: str
    options: list[str]
    lesson_id: int
    source: dict[str, Any]


class QuizOut(BaseModel):
    quiz_id: str
    course_id: int
    module_id: int | None
    difficulty: str
    seed: int
    max_attempts: int | None
    generator: str
    questions: list[QuizQuestion]
    created_at: datetime


class AttemptIn(BaseModel):
    answers: dict[str, Any] = Field(description='{"<question id>": <index of the chosen option>}')
    student: str | None = None


class AttemptOut(BaseModel):
    attempt_id: int
    quiz_id: str
    student: str | None
    score: int
    total: int
    feedback: list[dict[str, Any]]
    created_at: datetime


class AttemptList(BaseModel):
    attempts: list[AttemptOut]


class SpeakIn(BaseModel):
    text: str
    language: str | None = None
    voice: str | None = None
