"""The course generator interface and the drafts it returns."""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from profai.ingest.pdf import PdfDocument

if TYPE_CHECKING:
    from profai.providers.generator.answer import Citation
    from profai.providers.generator.quiz import QuestionDraft, QuizLesson
    from profai.retrieval.hybrid import Passage

ProgressFn = Callable[[float, str], None]  # fraction 0..1, message

# A citation marker in an answer, "[2]" or "[1, 3]", with the space before it.
MARKER_RE = re.compile(r"(\s*)\[(\d+(?:\s*,\s*\d+)*)\]")


@dataclass
class LessonDraft:
    """One lesson: source text of a page range plus its summary and key terms; `page_marks`
    ((offset, page), ...) says where each page begins in `content` when it is the source text."""

    title: str
    content: str
    summary: str
    key_terms: list[str]
    source_file: str
    page_start: int
    page_end: int
    page_marks: list[tuple[int, int]] = field(default_factory=list)


@dataclass
class ModuleDraft:
    """A group of lessons, usually one chapter."""

    title: str
    lessons: list[LessonDraft] = field(default_factory=list)


@dataclass
class CourseDraft:
    """A whole course built from one or more documents."""

    title: str
    modules: list[ModuleDraft] = field(default_factory=list)


@dataclass
class ChatAnswer:
    """A finished chat answer: its text with [n] markers, the passages they cite, and how it was made."""

    text: str
    citations: list[Citation]
    grounded: bool
    generator: str
    fallback: bool = False  # the model failed and the extractive backend answered instead
    note: str | None = None  # why it fell back


Turn = tuple[str, str]  # (question, answer) of an earlier exchange


class CourseGenerator(Protocol):
    """Turns documents into courses, answers questions from passages, writes quiz questions."""

    name: str

    def build_course(
        self, title: str, documents: Sequence[PdfDocument], progress: ProgressFn | None = None
    ) -> CourseDraft:
        """Build a course titled `title` from `documents`, reporting progress if asked."""
        ...

    def stream_answer(self, question: str, passages: Sequence[Passage], history: Sequence[Turn] = ()
                      ) -> Iterator[str | ChatAnswer]:
        """Text pieces of the answer as they are ready, then the ChatAnswer itself, last."""
        ...

    def quiz_questions(self, lessons: Sequence[QuizLesson], n: int, difficulty: str, rng: random.Random
                       ) -> list[QuestionDraft]:
        """Up to n multiple-choice questions drawn from the lessons."""
        ...


def final_answer(pieces: Iterator[str | ChatAnswer]) -> ChatAnswer:
    """The ChatAnswer at the end of a stream (for callers that do not stream). The stream is read
    to its end, so whatever it does after its last piece (saving the exchange) still happens."""
    answer = None
    for piece in pieces:
        if isinstance(piece, ChatAnswer):
            answer = piece
    if answer is None:
        raise RuntimeError("answer stream ended without an answer")
    return answer
