"""The language-model generator: lessons, chat answers and quiz questions from an OpenAI-compatible
chat endpoint, checked against the course text.

The extractive backend stays in charge of what can be checked: it finds the modules, lessons and
pages, and what it produces is what the student gets whenever the model fails or strays."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import closing
from dataclasses import replace
from typing import NoReturn

import httpx

from profai.domain import ChatAnswer, CourseDraft, LessonDraft, Passage, PdfDocument, Turn
from profai.providers.generator.answer import NOT_FOUND
from profai.providers.generator.base import EmbedFn, ProgressFn
from profai.providers.generator.extractive import ExtractiveGenerator
from profai.providers.generator.llm_blocks import coded_source
from profai.providers.generator.llm_prompts import (
    MAX_LESSON_SOURCE,
    MAX_QUIZ_SOURCE,
    MIN_QUIZ_EXCERPT,
    NOT_IN_COURSE,
    answer_messages,
    clip,
    lesson_messages,
    quiz_excerpt,
    quiz_messages,
)
from profai.providers.generator.llm_schemas import (
    LessonText,
    QuizItems,
    SentinelGate,
    checked_lesson,
    checked_questions,
    cited_answer,
)
from profai.providers.generator.quiz import DIFFICULTIES, QuestionDraft, QuizLesson
from profai.providers.http_retry import ProviderError, ProviderUnavailable
from profai.providers.openai_chat import ChatClient, ModelUnavailable

log = logging.getLogger(__name__)

LESSON_WORKERS = 4  # lessons written at once; the shared rate limiter still paces the requests
MAX_FAILURES_IN_A_ROW = 3  # then the model is down, not unlucky: the other lessons stay extractive
UNAVAILABLE_NOTE = "The language model was unavailable, so this answer quotes the course material directly."
BROKE_OFF_NOTE = "The language model stopped before finishing, so this answer may be incomplete."
_MODEL_ERRORS = (ModelUnavailable, ProviderError, ProviderUnavailable, httpx.HTTPError)


class LLMGenerator:
    """Writes with a language model what the extractive backend would copy, and checks the result.

    With `fallback` every model failure is answered by the extractive backend; without it the
    failure is raised as ModelUnavailable. `course_seconds` bounds the lesson writing of a whole
    course (lessons left when it runs out stay extractive); every single call is bounded by
    twice the client's per-attempt timeout."""

    def __init__(self, client: ChatClient, fallback: ExtractiveGenerator | None = None, *,
                 course_seconds: float | None = None, workers: int = LESSON_WORKERS):
        self.client, self.fallback = client, fallback
        self.name = f"openai:{client.model}"
        self.course_seconds, self.workers = course_seconds, workers
        self.call_seconds = 2 * client.retry.timeout
        self._structure = fallback or ExtractiveGenerator()

    # -- courses ---------------------------------------------------------------------------

    def build_course(self, title: str, documents: Sequence[PdfDocument], progress: ProgressFn | None = None
                     ) -> CourseDraft:
        """The extractive course, each lesson then rewritten by the model from its own source text."""
        report = progress or (lambda fraction, message: None)
        draft = self._structure.build_course(title, documents, lambda f, m: report(0.3 * f, m))
        slots = [(module, i) for module in draft.modules for i in range(len(module.lessons))]
        breaker = _Breaker(_deadline(self.course_seconds))
        written = 0
        report(0.3, f"Writing {len(slots)} lessons with {self.client.model}")
        with ThreadPoolExecutor(max_workers=max(1, min(self.workers, len(slots)))) as pool:
            futures = {pool.submit(self._write_lesson, title, module.title, module.lessons[i], breaker): (module, i)
                       for module, i in slots}
            for done, future in enumerate(as_completed(futures), start=1):
                module, i = futures[future]
                try:
                    lesson = future.result()
                except BaseException:
                    breaker.stop()  # no fallback: the lessons not yet started are not worth writing
                    raise
                if lesson is not None:
                    module.lessons[i] = lesson
                    written += 1
                report(0.3 + 0.7 * done / len(slots), f"Wrote {done} of {len(slots)} lessons")
        if written < len(slots):
            log.warning("%s wrote %d of %d lessons; the others keep their source text", self.name, written, len(slots))
        report(1.0, f"Wrote {written} of {len(slots)} lessons with {self.client.model}")
        return draft

    def _write_lesson(self, course: str, module: str, lesson: LessonDraft, breaker: _Breaker) -> LessonDraft | None:
        """The lesson as the model wrote it, checked; None (keep the extractive one) if the model failed."""
        if breaker.closed():
            return None
        coded = coded_source(lesson).text  # code listings as placeholders: the model writes prose only
        source = clip(coded, MAX_LESSON_SOURCE)
        messages = lesson_messages(course, module, lesson, source, cut=len(source) < len(coded))
        try:
            out = self.client.complete(messages, schema=LessonText, temperature=0.2,
                                       deadline=breaker.deadline(self.call_seconds))
        except _MODEL_ERRORS as exc:
            breaker.record(ok=False)
            if self.fallback is None:
                _raise_unavailable(exc)
            log.warning("%s failed on lesson %r (%s); keeping its source text", self.name, lesson.title, exc)
            return None
        breaker.record(ok=True)
        assert isinstance(out, LessonText)
        return checked_lesson(lesson, out, source)

    # -- chat ------------------------------------------------------------------------------

    def stream_answer(self, question: str, passages: Sequence[Passage], history: Sequence[Turn] = ()
                      ) -> Iterator[str | ChatAnswer]:
        """The model's answer as it streams, then a ChatAnswer citing the passages its [n] markers name."""
        passages = list(passages)
        if not passages:
            yield NOT_FOUND
            yield ChatAnswer(NOT_FOUND, [], False, self.name)
            return
        gate, shown = SentinelGate(NOT_IN_COURSE), []
        try:
            with closing(self.client.stream(answer_messages(question, passages, history), temperature=0.2,
                                            deadline=_deadline(self.call_seconds))) as tokens:
                for token in tokens:
                    if piece := gate.feed(token):
                        shown.append(piece)
                        yield piece
                    if gate.found:
                        break
            if not gate.found and (tail := gate.flush()):
                shown.append(tail)
                yield tail
        except _MODEL_ERRORS as exc:
            if not shown:
                yield from self._fallback_answer(question, passages, history, exc)
                return
            log.warning("%s broke off mid-answer (%s)", self.name, exc)
            yield cited_answer("".join(shown), passages, self.name, note=BROKE_OFF_NOTE)
            return
        said = "".join(shown)
        if gate.found:
            end = NOT_FOUND if not said or said[-1].isspace() else f" {NOT_FOUND}"
            yield end
            yield replace(cited_answer(said + end, passages, self.name), grounded=False)
        elif said.strip():
            yield cited_answer(said, passages, self.name)
        else:
            yield from self._fallback_answer(question, passages, history, ModelUnavailable("empty answer"))

    def _fallback_answer(self, question: str, passages: list[Passage], history: Sequence[Turn],
                         exc: BaseException) -> Iterator[str | ChatAnswer]:
        if self.fallback is None:
            _raise_unavailable(exc)
        log.warning("%s gave no answer (%s); answering extractively", self.name, exc)
        for piece in self.fallback.stream_answer(question, passages, history):
            yield replace(piece, fallback=True, note=UNAVAILABLE_NOTE) if isinstance(piece, ChatAnswer) else piece

    # -- quizzes ---------------------------------------------------------------------------

    def quiz_questions(self, lessons: Sequence[QuizLesson], n: int, difficulty: str, rng: random.Random,
                       embed: EmbedFn | None = None) -> list[QuestionDraft]:
        """Up to n checked model questions on rng-chosen lessons, topped up extractively if short."""
        if difficulty not in DIFFICULTIES:
            raise ValueError(f"difficulty must be one of {', '.join(DIFFICULTIES)}, not {difficulty!r}")
        usable = [lesson for lesson in lessons if lesson.content.strip()]
        if n < 1 or not usable:
            return []
        chosen = _quiz_lessons(usable, n, rng)
        deadline = _deadline(self.call_seconds)
        questions: list[QuestionDraft] = []
        error: BaseException | None = None
        for _ in range(2):  # the second call asks only for the questions the first one lacked
            missing = n - len(questions)
            if missing <= 0:
                break
            messages = quiz_messages(chosen, missing, difficulty, [q.prompt for q in questions])
            try:
                out = self.client.complete(messages, schema=QuizItems, temperature=0.7, deadline=deadline)
            except _MODEL_ERRORS as exc:
                error = exc
                break
            assert isinstance(out, QuizItems)
            questions += checked_questions(out.questions, chosen, rng, {q.prompt.casefold() for q in questions}
                                           )[:missing]
        if len(questions) < n:
            log.warning("%s wrote %d of %d questions (%s)", self.name, len(questions), n, error or "invalid ones")
            if self.fallback is not None:
                questions += self.fallback.quiz_questions(lessons, n - len(questions), difficulty, rng, embed)
            elif not questions and error is not None:
                _raise_unavailable(error)
        return questions


def _quiz_lessons(lessons: list[QuizLesson], n: int, rng: random.Random) -> list[tuple[QuizLesson, str]]:
    """The lessons the quiz asks about, drawn by rng and kept in course order, each with an excerpt."""
    k = min(len(lessons), n, MAX_QUIZ_SOURCE // MIN_QUIZ_EXCERPT)
    picked = sorted(rng.sample(range(len(lessons)), k))
    return [(lessons[i], quiz_excerpt(lessons[i], MAX_QUIZ_SOURCE // k, rng.random())) for i in picked]


# --- bounds ----------------------------------------------------------------------------------


class _Breaker:
    """Shared by a course's lesson calls: its deadline and a stop after failures in a row."""

    def __init__(self, deadline: float | None):
        self._deadline, self._row, self._stopped = deadline, 0, False
        self._lock = threading.Lock()

    def record(self, ok: bool) -> None:
        with self._lock:
            self._row = 0 if ok else self._row + 1
            if self._row >= MAX_FAILURES_IN_A_ROW and not self._stopped:
                log.warning("language model failed %d times in a row; the other lessons keep their source text",
                            self._row)
                self._stopped = True

    def stop(self) -> None:
        self._stopped = True

    def closed(self) -> bool:
        return self._stopped or (self._deadline is not None and time.monotonic() >= self._deadline)

    def deadline(self, seconds: float) -> float:
        """The deadline of one call: `seconds` from now, but not past the course's."""
        own = time.monotonic() + seconds
        return own if self._deadline is None else min(own, self._deadline)


def _deadline(seconds: float | None) -> float | None:
    return None if seconds is None else time.monotonic() + seconds


def _raise_unavailable(exc: BaseException) -> NoReturn:
    """Without a fallback every model failure reaches the caller as ModelUnavailable."""
    if isinstance(exc, ModelUnavailable):
        raise exc
    raise ModelUnavailable(f"language model unavailable: {exc}") from exc
