"""Past conversations and progress: what a student reopens and what they and their teacher see."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ChatSummary(BaseModel):
    session_id: str
    title: str = Field(description="The conversation's first question, shortened")
    created_at: datetime
    updated_at: datetime = Field(description="When its last message was written")
    messages: int


class ChatList(BaseModel):
    course_id: int
    chats: list[ChatSummary]
    total: int


class SavedSource(BaseModel):
    """A source as kept with an answer; answers saved by older versions lack the later fields."""

    number: int
    file: str
    page: int
    page_end: int | None = None
    page_label: str | None = None
    quote: str = ""
    score: float | None = None
    passage_id: str | None = None


class ChatMessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # read from a ChatMessage row

    id: int
    role: str = Field(json_schema_extra={"enum": ["user", "assistant"]})
    content: str
    sources: list[SavedSource]
    created_at: datetime


class ChatTranscript(BaseModel):
    session_id: str
    course_id: int
    title: str
    created_at: datetime
    messages: list[ChatMessageOut]
    truncated: bool = Field(description="True when only the latest messages are listed")


class LessonDone(BaseModel):
    lesson_id: int
    done_at: datetime


class AttemptPoint(BaseModel):
    attempt_id: int
    quiz_id: str
    difficulty: str
    score: int
    total: int
    created_at: datetime


class ModuleQuizzes(BaseModel):
    module_id: int | None = Field(description="None: quizzes over the whole course")
    title: str
    attempts: list[AttemptPoint]


class Progress(BaseModel):
    course_id: int
    lessons_total: int
    lessons_done: list[LessonDone]
    quizzes: list[ModuleQuizzes] = Field(description="This user's attempts, oldest first, by the quiz's module")


class MissedQuestion(BaseModel):
    quiz_id: str
    quiz_created_at: datetime
    difficulty: str
    question_id: str
    prompt: str
    correct_option: str
    source: dict[str, Any]
    answered: int = Field(description="Attempts that answered it")
    missed: int = Field(description="Attempts that got it wrong")


class MissedQuestions(BaseModel):
    course_id: int
    questions: list[MissedQuestion]
