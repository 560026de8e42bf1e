"""Extractive multiple-choice questions from the lessons, of three kinds:

- cloze: a lesson sentence with its one mention of a key term blanked ("Fill in the blank: ...");
- definition: "Which of these describes "X"?", the lesson's definition of X against the course's
  definitions of other key terms;
- true_statement: "Which statement is true?", a lesson sentence against copies of it with its key
  term swapped for another.

Wrong options are always key terms of the course of the answer's kind (or their definitions, or
the sentence naming them instead). Given an `embed` function they are the answer's neighbours in
meaning (the nearest for "hard", less near for "easy"), else ranked by where in the course they
occur (far-off lessons for "easy"). Difficulty also moves the choice of sentence (short
definitions for "easy", long non-defining sentences for "hard"). Code is never asked about."""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from profai.domain import page_label
from profai.providers.generator.base import EmbedFn
from profai.providers.generator.once_cache import once_cache
from profai.providers.generator.quiz_neighbours import SHORTLIST, Neighbours, term_vectors
from profai.providers.generator.quiz_sentences import (
    Definition,
    Item,
    Sentence,
    definitions,
    items,
    prose_sentences,
    rank_items,
)
from profai.providers.generator.quiz_terms import Term, find, in_text, term_pool
from profai.providers.generator.sections import PageMarks, page_at
from profai.retrieval.bm25 import tokenize

log = logging.getLogger(__name__)

DIFFICULTIES = ("easy", "medium", "hard")
KINDS = ("cloze", "definition", "true_statement")
FREE_KIND = "question"  # the kind of a question a language model wrote
OPTIONS = 4
BLANK = "_____"
CLOZE_PROMPT = "Fill in the blank: "
TRUE_PROMPT = "Which statement is true?"
# The kinds asked for in turn (the seed shuffles it), mostly cloze; a lesson that has a definition
# is asked for it half the time whatever the turn, as most texts define few terms.
_PLAN = ("cloze", "true_statement", "cloze", "definition")

@dataclass(frozen=True)
class QuizLesson:
    """One lesson as quiz input; `page_marks` ((offset, page), ...), where each page begins in
    `content`, pins each sentence to its exact page."""

    lesson_id: str
    title: str
    content: str
    key_terms: Sequence[str]
    source_file: str
    page_start: int
    page_end: int
    page_marks: PageMarks = ()
    page_labels: Sequence[str | None] = ()  # the number printed on each page of its file, by page index


@dataclass(frozen=True)
class QuestionDraft:
    """A multiple-choice question; `options[correct_index]` is the right one. `kind` is one of
    KINDS, or FREE_KIND for one a language model wrote; `option_terms` names the key term each
    option is (cloze), defines (definition) or names (true_statement)."""

    prompt: str
    options: list[str]
    correct_index: int
    explanation: str
    lesson_id: str
    source_file: str
    page: int
    kind: str = FREE_KIND
    option_terms: tuple[str, ...] = ()


def make_questions(lessons: Sequence[QuizLesson], n: int, difficulty: str, rng: random.Random,
                   embed: EmbedFn | None = None) -> list[QuestionDraft]:
    """Up to `n` questions spread over `lessons`; the same rng seed gives the same quiz."""
    if difficulty not in DIFFICULTIES:
        raise ValueError(f"difficulty must be one of {', '.join(DIFFICULTIES)}, not {difficulty!r}")
    if n < 1 or not lessons:
        return []
    course = course_material(tuple((lesson.content, tuple(lesson.key_terms)) for lesson in lessons))
    neighbours = Neighbours(course.terms, _vectors(embed, course.terms))
    writer = _Writer(lessons, course, neighbours, difficulty, rng)
    order = list(range(len(lessons)))
    rng.shuffle(order)
    plan = list(_PLAN)
    rng.shuffle(plan)
    questions: list[QuestionDraft] = []
    # Round-robin over lessons so a quiz covers the course rather than its longest lesson.
    while len(questions) < n:
        before = len(questions)
        for i in order:
            if len(questions) >= n:
                break
            question = writer.next_question(i, plan[len(questions) % len(plan)])
            if question is not None:
                questions.append(question)
        if len(questions) == before:
            break  # no lesson has anything left to ask
    return questions


@dataclass(frozen=True)
class CourseMaterial:
    """What every quiz of a course draws on: its key terms, and per lesson the (sentence, term)
    items and the definitions its sentences give."""

    terms: tuple[Term, ...]
    items: tuple[tuple[Item, ...], ...]
    definitions: tuple[tuple[Definition, ...], ...]
    text: str  # the whole course, lowercased, whitespace squashed


@once_cache(maxsize=16)
def course_material(lessons: tuple[tuple[str, tuple[str, ...]], ...]) -> CourseMaterial:
    """From each lesson's (content, key terms). Kept for the last few courses: it reads the whole
    course (~0.5 s for R-intro) and every quiz of that course needs the same material."""
    terms = term_pool(lessons)
    by_key = {t.key: t for t in terms}
    all_items, all_definitions = [], []
    for i, (content, key_terms) in enumerate(lessons):
        sentences = prose_sentences(content, i)
        # A term listed by several lessons can be asked about in each of them.
        own_keys = {frozenset(tokenize(surface)) for surface in key_terms}
        own = sorted((t for t in terms if t.key in own_keys), key=lambda t: (t.lesson != i, t.rank))
        all_items.append(tuple(items(sentences, own)))
        all_definitions.append(tuple(definitions(sentences, by_key)))
    text = " ".join(" ".join(content.split()) for content, _ in lessons).lower()
    return CourseMaterial(terms, tuple(all_items), tuple(all_definitions), text)


def _vectors(embed: EmbedFn | None, terms: Sequence[Term]) -> NDArray[np.float32] | None:
    if embed is None or not terms:
        return None
    try:
        vectors = term_vectors(embed, tuple(t.surface for t in terms))
    except Exception as exc:  # an embedder is a refinement here: failing, it costs closeness, not the quiz
        log.warning("quiz: term embeddings failed (%s); ranking wrong options by lesson", type(exc).__name__)
        return None
    return vectors if vectors.shape[0] == len(terms) else None


@dataclass
class _Pending:
    """A lesson's items (best first) and definitions, and the (source, kind) pairs that made no
    question; used sources are told by their sentence and answer."""

    items: list[Item]
    definitions: list[Definition]
    failed: set[tuple[Item | Definition, str]] = field(default_factory=set)


class _Writer:
    """Writes one quiz's questions, never the same sentence or answer twice."""

    def __init__(self, lessons: Sequence[QuizLesson], course: CourseMaterial, neighbours: Neighbours,
                 difficulty: str, rng: random.Random) -> None:
        self.lessons, self.course, self.neighbours = lessons, course, neighbours
        self.difficulty, self.rng = difficulty, rng
        self.pending = [_Pending(rank_items(list(found), difficulty), list(defined))
                        for found, defined in zip(course.items, course.definitions)]
        self.defined = {d.term.key: d for lesson in course.definitions for d in lesson}
        self.used_sentences: set[str] = set()
        self.used_answers: set[frozenset[str]] = set()

    def next_question(self, lesson: int, wanted: str) -> QuestionDraft | None:
        """A question on the lesson, of the wanted kind if it can be, else of another."""
        pending = self.pending[lesson]
        if pending.definitions and self.rng.random() < 0.5:
            wanted = "definition"
        for kind in [wanted, *(k for k in KINDS if k != wanted)]:
            question = self._of_kind(kind, pending, self.lessons[lesson])
            if question is not None:
                return question
        return None

    def _of_kind(self, kind: str, pending: _Pending, lesson: QuizLesson) -> QuestionDraft | None:
        """Try the lesson's sources of this kind (a seeded pick among the best few) until one works."""
        sources: Sequence[Item | Definition] = pending.definitions if kind == "definition" else pending.items
        while True:
            fresh = [s for s in sources if s.sentence.text not in self.used_sentences
                     and s.term.key not in self.used_answers and (s, kind) not in pending.failed
                     and (kind != "true_statement" or isinstance(s, Item) and s.standalone)]
            if not fresh:
                return None
            pick = fresh[self.rng.randrange(min(SHORTLIST, len(fresh)))]
            question = self._write(kind, pick, lesson)
            if question is None:
                pending.failed.add((pick, kind))
                continue
            self.used_sentences.add(pick.sentence.text)
            self.used_answers.add(pick.term.key)
            return question

    def _write(self, kind: str, source: Item | Definition, lesson: QuizLesson) -> QuestionDraft | None:
        if isinstance(source, Definition):
            return self._definition(source, lesson)
        return self._cloze(source, lesson) if kind == "cloze" else self._true_statement(source, lesson)

    def _cloze(self, item: Item, lesson: QuizLesson) -> QuestionDraft | None:
        text = item.sentence.text
        words = tokenize(text)
        wrong = self.neighbours.pick(item.term, self.difficulty, self.rng,
                                     allowed=lambda t: _same_number(t, item.term) and not in_text(t, text, words))
        if len(wrong) < OPTIONS - 1:
            return None
        match = find(item.term.surface, text)
        assert match is not None  # items are only made for sentences containing their term once
        # Every option as the course lists its terms ("chlorophyll", not "Chlorophyll" because a
        # sentence starts with it), so case tells nothing.
        options = [item.term.surface] + [t.surface for t in wrong]
        self.rng.shuffle(options)
        return self._draft("cloze", f"{CLOZE_PROMPT}{text[: match.start()]}{BLANK}{text[match.end() :]}",
                           options, options.index(item.term.surface), tuple(options), item.sentence, lesson)

    def _true_statement(self, item: Item, lesson: QuizLesson) -> QuestionDraft | None:
        text = item.sentence.text
        words = tokenize(text)
        match = find(item.term.surface, text)
        assert match is not None

        def fits(t: Term) -> bool:
            # Same shape (a verb agrees with it) and absent from the sentence, so the copy reads as a
            # plain statement that the course does not make anywhere.
            return (_same_number(t, item.term) and t.words == item.term.words and not in_text(t, text, words)
                    and _swap(text, match.start(), match.end(), t.surface).lower() not in self.course.text)

        wrong = self.neighbours.pick(item.term, self.difficulty, self.rng, allowed=fits)
        if len(wrong) < OPTIONS - 1:
            return None
        pairs = [(text, item.term.surface)] + [(_swap(text, match.start(), match.end(), t.surface), t.surface)
                                               for t in wrong]
        self.rng.shuffle(pairs)
        options = [statement for statement, _ in pairs]
        return self._draft("true_statement", TRUE_PROMPT, options, options.index(text),
                           tuple(term for _, term in pairs), item.sentence, lesson)

    def _definition(self, defined: Definition, lesson: QuizLesson) -> QuestionDraft | None:
        term = defined.term
        others = {k: d for k, d in self.defined.items() if d.sentence.text != defined.sentence.text}
        wrong = self.neighbours.pick(term, self.difficulty, self.rng, among=[d.term for d in others.values()],
                                     allowed=lambda t: not in_text(term, others[t.key].text), by_head=False)
        if len(wrong) < OPTIONS - 1:
            return None
        pairs = [(_as_option(defined.text), term.surface)] + [(_as_option(others[t.key].text), t.surface)
                                                               for t in wrong]
        if len({statement.lower() for statement, _ in pairs}) < OPTIONS:
            return None
        self.rng.shuffle(pairs)
        options = [statement for statement, _ in pairs]
        return self._draft("definition", f'Which of these describes "{term.surface}"?', options,
                           options.index(_as_option(defined.text)), tuple(t for _, t in pairs), defined.sentence,
                           lesson)

    def _draft(self, kind: str, prompt: str, options: list[str], correct: int, terms: tuple[str, ...],
               sentence: Sentence, lesson: QuizLesson) -> QuestionDraft:
        page = _page_of(sentence, lesson)
        label = page_label(lesson.page_labels, page)
        return QuestionDraft(
            prompt=prompt, options=options, correct_index=correct,
            explanation=f'The course says: "{sentence.text}" ({lesson.source_file}, '
                        f'{f"p. {label}" if label else f"page {page}"})',
            lesson_id=lesson.lesson_id, source_file=lesson.source_file, page=page, kind=kind, option_terms=terms)


def _same_number(a: Term, b: Term) -> bool:
    """Both singular or both plural ("a _____" takes no "matrices"); only plain terms can tell."""
    return a.kind != "plain" or a.plural == b.plural


def _swap(text: str, start: int, end: int, surface: str) -> str:
    """`text` with text[start:end] replaced by `surface`, its case and article fitted."""
    if start == 0:
        surface = surface[:1].upper() + surface[1:]
    before = text[:start]
    if before.lower().endswith((" a ", " an ")) or before in ("A ", "An "):
        article = before.rstrip().rsplit(" ", 1)[-1]
        fitted = ("an" if surface[:1].lower() in "aeiou" else "a")
        fitted = fitted.capitalize() if article[:1].isupper() else fitted
        before = before[: len(before) - len(article) - 1] + fitted + " "
    return before + surface + text[end:]


def _as_option(definition: str) -> str:
    return definition[:1].upper() + definition[1:]


def _page_of(sentence: Sentence, lesson: QuizLesson) -> int:
    """The page the sentence starts on: read from the lesson's page marks, else estimated."""
    if lesson.page_marks and sentence.offset >= 0:
        return page_at(lesson.page_marks, sentence.offset, lesson.page_start)
    if lesson.page_end <= lesson.page_start or not lesson.content:
        return lesson.page_start
    return min(lesson.page_end, lesson.page_start + int(sentence.at * (lesson.page_end - lesson.page_start + 1)))
