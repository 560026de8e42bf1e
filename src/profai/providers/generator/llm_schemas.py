"""What the language model must send back (pydantic schemas) and the checks its answers go
through before a student sees them: grounding in the source text, valid options and pages,
citations of passages that exist."""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import replace

from pydantic import BaseModel, Field

from profai.domain import ChatAnswer, Citation, LessonDraft, Passage, blocks_text
from profai.providers.generator.base import MARKER_RE
from profai.providers.generator.extractive import MAX_KEY_TERMS
from profai.providers.generator.llm_blocks import coded_source, placeholders_kept, written_blocks
from profai.providers.generator.llm_prompts import clip
from profai.providers.generator.quiz import OPTIONS, QuestionDraft, QuizLesson
from profai.providers.generator.sections import KEY_TERM_KINDS, prose_only
from profai.retrieval.bm25 import tokenize
from profai.text import split_sentences

MIN_OVERLAP = 0.6  # share of a written text's terms that must occur in its source
LENGTH_RATIO = (0.3, 2.0)  # written lesson length relative to its source: shorter drops facts, longer adds
QUOTE_CHARS = 300
# Markers after a full stop ("... light. [1]") cite the sentence before them.
_TRAILING_RE = re.compile(r"([.!?])((?:\s*\[\d+(?:\s*,\s*\d+)*\])+)")


# --- schemas ---------------------------------------------------------------------------------


class LessonText(BaseModel):
    """One lesson as the model writes it."""

    content: str = Field(description="The lesson rewritten as clear, readable prose in short paragraphs, "
                                     "using only facts from the source text, with every [[CODE n]] "
                                     "placeholder copied once, unchanged, where its listing belongs")
    summary: str = Field(description="Two or three sentences summarising the lesson")
    key_terms: list[str] = Field(description="3 to 8 important terms, each copied exactly as it appears in the "
                                             "source text")


class QuizItem(BaseModel):
    """One multiple-choice question as the model writes it."""

    prompt: str = Field(description="The question")
    options: list[str] = Field(description="Exactly 4 different answer options")
    correct_index: int = Field(description="Index (0-3) of the correct option")
    explanation: str = Field(description="Why the correct option is right, from the lesson text")
    lesson_number: int = Field(description="Number of the lesson the question is about")
    page: int = Field(description="Page of that lesson where the answer is stated")


class QuizItems(BaseModel):
    """A batch of questions."""

    questions: list[QuizItem]


# --- lessons and questions -------------------------------------------------------------------


def checked_lesson(lesson: LessonDraft, out: LessonText, source: str) -> LessonDraft:
    """`lesson` with the model's fields that pass the checks; pages, file and code never change.

    `source` is what the model was given: the lesson's coded_source text, perhaps clipped. Written
    content is used only whole: every code placeholder kept once and in order, none invented, a
    length close to the source's and the source's words; it then becomes the lesson's blocks with
    the original code blocks put back. Otherwise the lesson keeps its source text and blocks."""
    coded = coded_source(lesson)
    written = out.content.strip()
    low, high = LENGTH_RATIO
    # A model that saw only the start of a long lesson cannot rewrite all of it: keep the source.
    ok = (len(source) >= len(coded.text) and placeholders_kept(written, len(coded.codes))
          and low <= len(written) / max(1, len(source)) <= high and overlap(written, source) >= MIN_OVERLAP)
    blocks = written_blocks(written, coded) if ok else []
    if not any(b.kind != "code" for b in blocks):
        blocks, content, page_marks = lesson.blocks, lesson.content, lesson.page_marks
    else:
        # The page marks are offsets into the source text: the model's words have none.
        content, page_marks = blocks_text(blocks), []
    summary = out.summary.strip()
    if not summary or overlap(summary, source) < MIN_OVERLAP:
        summary = lesson.summary
    words = prose_only(lesson.content, lesson.blocks, keep=KEY_TERM_KINDS)
    key_terms = grounded_terms(out.key_terms, words) or lesson.key_terms
    return replace(lesson, content=content, blocks=list(blocks), summary=summary, key_terms=key_terms,
                   page_marks=page_marks)


def grounded_terms(terms: Sequence[str], source: str) -> list[str]:
    """The terms that occur in `source` as whole words (case-insensitive), deduplicated, at most 8."""
    flat = " ".join(source.split())
    out: list[str] = []
    for term in terms:
        term = " ".join(term.split()).strip(" .,;:")
        if not term or term.casefold() in (t.casefold() for t in out):
            continue
        if re.search(rf"(?<!\w){re.escape(term)}(?!\w)", flat, re.IGNORECASE):
            out.append(term)
    return out[:MAX_KEY_TERMS]


def overlap(text: str, source: str) -> float:
    """Share of the distinct terms of `text` that occur in `source` (1.0 for a text without terms)."""
    terms = set(tokenize(text))
    return len(terms & set(tokenize(source))) / len(terms) if terms else 1.0


def checked_questions(items: Sequence[QuizItem], chosen: list[tuple[QuizLesson, str]], rng: random.Random,
                      seen: set[str]) -> list[QuestionDraft]:
    """The items with 4 distinct options, a valid answer, a known lesson and a page inside it."""
    out = []
    for item in items:
        prompt = " ".join(item.prompt.split())
        options = [" ".join(option.split()) for option in item.options]
        if not (prompt and prompt.casefold() not in seen and 1 <= item.lesson_number <= len(chosen)):
            continue
        lesson = chosen[item.lesson_number - 1][0]
        if not (lesson.page_start <= item.page <= lesson.page_end and 0 <= item.correct_index < OPTIONS
                and len(options) == OPTIONS and all(options) and len({o.casefold() for o in options}) == OPTIONS):
            continue
        seen.add(prompt.casefold())
        answer = options[item.correct_index]
        rng.shuffle(options)  # models favour the first positions for the right answer
        explanation = " ".join(item.explanation.split()) or "This is stated in the lesson."
        out.append(QuestionDraft(prompt=prompt, options=options, correct_index=options.index(answer),
                                 explanation=f"{explanation} ({lesson.source_file}, page {item.page})",
                                 lesson_id=lesson.lesson_id, source_file=lesson.source_file, page=item.page))
    return out


# --- answers ---------------------------------------------------------------------------------


def cited_answer(text: str, passages: list[Passage], generator: str, note: str | None = None) -> ChatAnswer:
    """The ChatAnswer of `text`: markers naming no passage dropped, the others turned into citations."""
    text = MARKER_RE.sub(lambda m: _valid_marker(m, len(passages)), text).strip()
    citing: dict[int, list[str]] = {}
    for sentence in split_sentences(_TRAILING_RE.sub(r"\2\1", text)):
        for match in MARKER_RE.finditer(sentence):
            for number in _numbers(match):
                citing.setdefault(number, []).append(sentence)
    citations = [
        Citation(number=n, passage_id=p.id, source_file=p.source_file, page_start=p.page_start,
                 page_end=p.page_end, quotes=(best_quote(p.text, " ".join(citing[n])),))
        for n in sorted(citing) for p in [passages[n - 1]]
    ]
    return ChatAnswer(text, citations, bool(citations), generator, fallback=note is not None, note=note)


def _numbers(match: re.Match[str]) -> list[int]:
    return [int(x) for x in re.findall(r"\d+", match.group(2))]


def _valid_marker(match: re.Match[str], count: int) -> str:
    numbers = [n for n in dict.fromkeys(_numbers(match)) if 1 <= n <= count]
    return f"{match.group(1)}[{', '.join(map(str, numbers))}]" if numbers else ""


def best_quote(passage: str, context: str) -> str:
    """The passage sentence sharing most terms with `context` (the answer citing it), else its start."""
    want = set(tokenize(MARKER_RE.sub("", context)))
    sentences = split_sentences(passage)
    scored = [(len(want & set(tokenize(s))), -i, s) for i, s in enumerate(sentences)]
    best = max(scored, default=(0, 0, ""))
    if best[0] == 0:
        return clip(" ".join(passage.split()), QUOTE_CHARS)
    return best[2] if len(best[2]) <= 2 * QUOTE_CHARS else clip(best[2], QUOTE_CHARS)


class SentinelGate:
    """Passes streamed text on, holding back a tail that might be the start of the sentinel."""

    def __init__(self, sentinel: str):
        self.sentinel, self.buffer, self.found, self.started = sentinel, "", False, False

    def feed(self, token: str) -> str:
        self.buffer += token
        at = self.buffer.find(self.sentinel)
        if at >= 0:
            self.found = True
            return self._emit(self.buffer[:at], "")
        keep = next((k for k in range(min(len(self.buffer), len(self.sentinel) - 1), 0, -1)
                     if self.buffer.endswith(self.sentinel[:k])), 0)
        return self._emit(self.buffer[: len(self.buffer) - keep], self.buffer[len(self.buffer) - keep:])

    def flush(self) -> str:
        return self._emit(self.buffer, "")

    def _emit(self, out: str, rest: str) -> str:
        self.buffer = rest
        if not self.started:  # no leading blank piece before the answer (or before the sentinel)
            out = out.lstrip()
            self.started = bool(out)
        return out


