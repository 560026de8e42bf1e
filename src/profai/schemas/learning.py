"""Chat, quiz and speech requests and responses."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field

from profai.providers.generator.quiz import DIFFICULTIES, FREE_KIND, KINDS
from profai.schemas.rules import NOT_BLANK, WHOLE, Int, RequestModel
from profai.services.chat import MAX_QUESTION_CHARS
from profai.services.quizzes import MAX_QUESTIONS

# Ids, quiz seeds and attempt limits are SQL INTEGERs: 32-bit on PostgreSQL, where a larger number
# fails the query. (A bound as `lt` a power of two: the OpenAPI document holds numbers as floats.)
INT32_END = 2**31


class ChatIn(RequestModel):
    course_id: Annotated[int, Field(ge=1, lt=INT32_END), WHOLE]
    question: str = Field(json_schema_extra={"maxLength": MAX_QUESTION_CHARS, "pattern": NOT_BLANK})
    session_id: str | None = Field(None, max_length=64)
    lesson_id: Annotated[int, Field(ge=1, lt=INT32_END), WHOLE] | None = Field(
        None, description="Answer from this lesson's pages only (a lesson of the course)")


class Source(BaseModel):
    number: int
    file: str
    page: int
    page_end: int
    page_label: str | None = None  # the number printed on `page`, where the PDF shows one
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


class QuizIn(RequestModel):
    questions: Int = Field(5, json_schema_extra={"minimum": 1, "maximum": MAX_QUESTIONS})
    difficulty: str = Field("medium", json_schema_extra={"enum": list(DIFFICULTIES)})
    module_id: Annotated[int, Field(ge=1, lt=INT32_END), WHOLE] | None = None
    seed: Annotated[int, Field(ge=-INT32_END, lt=INT32_END), WHOLE] | None = Field(
        None, description="The same seed gives the same quiz")
    max_attempts: Annotated[int, Field(lt=INT32_END), WHOLE] | None = Field(
        None, json_schema_extra={"minimum": 1}, description="Attempts allowed per quiz; none means unlimited")


class QuizQuestion(BaseModel):
    id: str
    kind: str = Field(FREE_KIND, json_schema_extra={"enum": [*KINDS, FREE_KIND]},
                      description="cloze: fill in the blank; definition: which option describes the term; "
                      "true_statement: which option is true; question: one a language model wrote")
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


class AttemptIn(RequestModel):
    # Values as sent (the service judges them), 1.0 taken as 1 like any integer field.
    answers: dict[str, Annotated[Any, WHOLE]] = Field(
        description='{"<question id>": <index of the chosen option>}, for every question of the quiz',
        json_schema_extra={"minProperties": 1, "additionalProperties": {"type": "integer", "minimum": 0}})
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


class SpeakIn(RequestModel):
    text: str = Field(description="At most TTS_MAX_CHARS characters", json_schema_extra={"pattern": NOT_BLANK})
    language: str | None = None
    voice: str | None = None
