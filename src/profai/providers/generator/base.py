"""The course generator interface and the drafts it returns."""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Protocol

from profai.domain import ChatAnswer, CourseDraft, Passage, PdfDocument

if TYPE_CHECKING:
    from profai.providers.generator.quiz import QuestionDraft, QuizLesson

ProgressFn = Callable[[float, str], None]  # fraction 0..1, message
EmbedFn = Callable[[list[str]], list[list[float]]]  # texts -> unit vectors, e.g. Embedder.embed

# A citation marker in an answer, "[2]" or "[1, 3]", with the space before it.
MARKER_RE = re.compile(r"(\s*)\[(\d+(?:\s*,\s*\d+)*)\]")


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

    def quiz_questions(self, lessons: Sequence[QuizLesson], n: int, difficulty: str, rng: random.Random,
                       embed: EmbedFn | None = None) -> list[QuestionDraft]:
        """Up to n multiple-choice questions drawn from the lessons; `embed` (texts -> unit vectors)
        ranks wrong options by closeness in meaning to the answer."""
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
