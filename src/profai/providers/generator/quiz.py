"""Extractive multiple-choice questions: cloze sentences from the lessons with a key term blanked.

The question is a source sentence with one key term replaced by a blank; the wrong options are
other terms of the course of the same kind (a function name for a function name, a phrase for
a phrase) that do not occur in that sentence. Difficulty moves the choice of sentence (short
definitions for "easy", long non-defining sentences for "hard") and of wrong options (terms
from far-off lessons for "easy", from the same or nearby lessons and sharing words for "hard")."""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from profai.lexicon import can_be_noun
from profai.providers.generator.keyterms import KeyTermIndex, count_terms
from profai.providers.generator.sections import PageMarks, page_at
from profai.retrieval.bm25 import tokenize
from profai.text import split_sentences

DIFFICULTIES = ("easy", "medium", "hard")
OPTIONS = 4
BLANK = "_____"
EXTRA_TERMS = 12  # salient phrases per lesson added to the key terms as wrong options
SHORTLIST = 4  # the seed picks among this many best sentences or options, for variety

# Single words that are rarely the point of a sentence: quizzing them teaches nothing.
_GENERIC = frozenset(
    ["page", "pages", "chapter", "section", "example", "order", "want", "hence", "start", "matter", "simple", "basic", "value", "values", "number", "numbers", "way", "case", "cases", "part", "parts", "form", "type", "kind", "thing", "time", "point", "result", "results", "certain", "easiest", "official", "preferable", "alone", "stands", "mixed", "provide", "effective", "integrated", "coherent", "written", "important", "useful", "special", "general", "usual", "able", "need", "different", "same", "usually", "data", "file", "files", "name", "names", "list", "line", "lines", "item", "items", "entry", "entries", "table", "well", "also", "called", "given", "giving", "making", "work", "appendix", "figure", "see", "note", "instead"]
)
_ADJECTIVE_ENDINGS = ("ed", "ly", "ive", "ous", "ful", "ible")
# Words that come before nouns: a single word seen after one of them is likely a thing, not a
# verb or an adjective ("of alleles", "the energy"; never "the absorbs").
_NOUN_CUES = ["the", "a", "an", "of", "its", "their", "this", "these", "those", "each", "every", "some", "any", "many", "several", "both", "such", "no", "in", "on", "from", "for", "with", "by", "into", "than", "between", "called"]
_NOUN_CUE_RE = r"(?:" + "|".join(_NOUN_CUES) + r")"
# A word that ends a noun phrase somewhere (before punctuation or a verb or preposition) is not
# only an adjective: "the double helix" never ends on "double".
_HEAD_RE = re.compile(
    r"([^\W_][\w'’]*)(?=\s*[.,;:!?)]|\s+(?:is|are|was|were|has|have|can|may|will|and|or|of|in|into|to|that"
    r"|which|with|from|by|for|as|on|at)\b)"
)
_DEFINING_VERBS = r"(?:is|are|was|were|means|refers to|consists of|is defined as|is called|are called)"


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


@dataclass(frozen=True)
class QuestionDraft:
    """A multiple-choice question; `options[correct_index]` is the blanked term."""

    prompt: str
    options: list[str]
    correct_index: int
    explanation: str
    lesson_id: str
    source_file: str
    page: int


@dataclass(frozen=True)
class _Term:
    surface: str  # as shown in options
    key: frozenset[str]  # stemmed words, to spot duplicates and overlaps
    kind: str  # code | acronym | name | plain
    words: int
    plural: bool
    lesson: int  # index of the lesson it came from
    rank: int  # 0 = the lesson's best key term
    answerable: bool  # a key term fit to be blanked (not only a wrong option)


@dataclass(frozen=True)
class _Item:
    lesson: int
    sentence: str
    term: _Term
    defining: bool
    at: float  # where the sentence starts in the lesson, 0..1
    offset: int  # where it starts in the lesson's content, -1 if not found there as it is


def make_questions(
    lessons: Sequence[QuizLesson], n: int, difficulty: str, rng: random.Random
) -> list[QuestionDraft]:
    """Up to `n` cloze questions spread over `lessons`; the same rng seed gives the same quiz."""
    if difficulty not in DIFFICULTIES:
        raise ValueError(f"difficulty must be one of {', '.join(DIFFICULTIES)}, not {difficulty!r}")
    if n < 1 or not lessons:
        return []
    terms = list(_term_pool(tuple((lesson.content, tuple(lesson.key_terms)) for lesson in lessons)))
    pending = {i: _rank_items(_items(lesson, i, terms), difficulty) for i, lesson in enumerate(lessons)}
    order = list(range(len(lessons)))
    rng.shuffle(order)
    questions: list[QuestionDraft] = []
    used_sentences: set[str] = set()
    used_answers: set[frozenset[str]] = set()
    # Round-robin over lessons so a quiz covers the course rather than its longest lesson.
    while len(questions) < n and any(pending[i] for i in order):
        for i in order:
            if len(questions) >= n:
                break
            question = _next_question(pending[i], lessons[i], terms, difficulty, rng, used_sentences, used_answers)
            if question is not None:
                questions.append(question)
    return questions


def _next_question(
    items: list[_Item],
    lesson: QuizLesson,
    terms: list[_Term],
    difficulty: str,
    rng: random.Random,
    used_sentences: set[str],
    used_answers: set[frozenset[str]],
) -> QuestionDraft | None:
    """Pop items of one lesson (a seeded pick among the best few) until one makes a question."""
    while items:
        fresh = [it for it in items if it.sentence not in used_sentences and it.term.key not in used_answers]
        if not fresh:
            items.clear()
            return None
        item = fresh[rng.randrange(min(SHORTLIST, len(fresh)))]
        items.remove(item)
        distractors = _distractors(item, terms, difficulty, rng)
        if len(distractors) < OPTIONS - 1:
            continue
        used_sentences.add(item.sentence)
        used_answers.add(item.term.key)
        return _question(item, lesson, distractors, rng)
    return None


def _question(item: _Item, lesson: QuizLesson, distractors: list[_Term], rng: random.Random) -> QuestionDraft:
    match = _find(item.term.surface, item.sentence)
    assert match is not None  # items are only made for sentences containing their term
    answer = item.sentence[match.start() : match.end()]
    if match.start() == 0 and item.term.surface[:1].islower():
        answer = answer[:1].lower() + answer[1:]  # "Chlorophyll absorbs" -> option "chlorophyll"
    cloze = _pattern(item.term.surface).sub(BLANK, item.sentence)
    options = [answer] + [d.surface for d in distractors]
    rng.shuffle(options)
    page = _page_of(item, lesson)
    return QuestionDraft(
        prompt=f"Fill in the blank: {cloze}",
        options=options,
        correct_index=options.index(answer),
        explanation=f'The course says: "{item.sentence}" ({lesson.source_file}, page {page})',
        lesson_id=lesson.lesson_id,
        source_file=lesson.source_file,
        page=page,
    )


# --- the term pool --------------------------------------------------------------------------


class _CorpusFacts:
    """What the term checks need to know about the course text, found in one pass each."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lower_words = set(re.findall(r"(?<![\w.])[a-z][\w'’-]*", text))
        # Capitalised mid-sentence (after a lowercase word or a comma): a name, not a sentence start.
        self.names = set(re.findall(r"(?<=[a-z,;] )[A-Z][\w'’-]*", text))
        self.called = set(re.findall(r"(?<![\w.])([A-Za-z][\w.]*)\(", text))
        self.after_cue = {w.lower() for w in re.findall(rf"\b{_NOUN_CUE_RE}\s+([^\W_][\w'’]*)", text, re.IGNORECASE)}
        self.heads = {w.lower() for w in _HEAD_RE.findall(text)}


@lru_cache(maxsize=16)
def _term_pool(lessons: tuple[tuple[str, tuple[str, ...]], ...]) -> tuple[_Term, ...]:
    """Key terms (answerable) and other salient phrases (wrong options only), one entry per term,
    from each lesson's (content, key terms). Kept for the last few courses: it reads the whole
    course (~0.4 s for R-intro) and every quiz of that course needs the same pool."""
    facts = _CorpusFacts("\n\n".join(content for content, _ in lessons))
    counts = [count_terms(content) for content, _ in lessons]
    index = KeyTermIndex(counts)
    pool: dict[frozenset[str], _Term] = {}
    for i, (content, key_terms) in enumerate(lessons):
        extra = index.top_terms(counts[i], len(key_terms) + EXTRA_TERMS)
        for rank, surface in enumerate(list(key_terms) + extra):
            term = _make_term(surface, i, rank, rank < len(key_terms), facts, content)
            if term is not None and term.key not in pool:
                pool[term.key] = term
    return tuple(pool.values())


def _make_term(
    surface: str, lesson: int, rank: int, is_key: bool, facts: _CorpusFacts, content: str
) -> _Term | None:
    surface = " ".join(surface.split())
    key = frozenset(tokenize(surface))
    # Whole words only: "RData" of ".RData" could never be blanked or checked against a sentence.
    if not key or _find(surface, content) is None:
        return None
    first = surface.split()[0]
    # "Vectors" was first seen starting a sentence; shown as an option it should read "vectors".
    if first[:1].isupper() and not first[1:].isupper() and first not in facts.names:
        lowered = surface[:1].lower() + surface[1:]
        if (lowered in facts.lower_words) if " " not in surface else (lowered in facts.text):
            surface = lowered
    kind = _kind(surface, facts)
    words = surface.split()
    if kind != "code" and (any(ch.isdigit() for ch in surface) or words[-1].lower() in _GENERIC):
        return None  # "Perl1to" is a footnote mark glued to a word; "Section 6.2" is navigation
    if kind == "plain" and not _noun_like(words, is_key, facts):
        return None
    return _Term(
        surface=surface,
        key=key,
        kind=kind,
        words=len(words),
        plural=surface.endswith("s") and not surface.endswith(("ss", "us", "is")),
        lesson=lesson,
        rank=rank,
        answerable=is_key and len(surface) >= 3,
    )


def _kind(surface: str, facts: _CorpusFacts) -> str:
    """code (a name used as code, e.g. "tapply"), acronym ("ATP"), name ("Mendel") or plain."""
    if any(ch in surface for ch in "()._[]$") or surface in facts.called:
        return "code"
    if any(sum(ch.isupper() for ch in word) >= 2 for word in surface.split()):
        return "acronym"
    if surface[:1].isupper():
        return "name" if surface.split()[0] in facts.names else "plain"
    return "plain"


def _noun_like(words: list[str], is_key: bool, facts: _CorpusFacts) -> bool:
    """A thing worth naming: its head word is not generic, a verb form or an adjective.

    A lone word must also follow "the", "of" and the like somewhere in the course, and end a
    noun phrase somewhere (adjectives never do); phrases
    suggested beyond the key terms are held to the same test for every word."""
    head = words[-1].lower()
    if (len(head) < 4 or head in _GENERIC or any(ch.isdigit() for ch in head) or not _nounish_ending(head)
            or not can_be_noun(head)):
        return False
    if len(words) == 1:
        return head in facts.after_cue and head in facts.heads
    if is_key:
        return True
    return all(w.lower() in ("of", "and") or (len(w) >= 4 and w.lower() not in _GENERIC and _nounish_ending(w.lower()))
               for w in words[:-1])


def _nounish_ending(word: str) -> bool:
    if word.endswith("ing") and len(word) > 6:
        return False  # "recycling", "ordering": actions, not things
    return not word.endswith(_ADJECTIVE_ENDINGS)


# --- sentences ------------------------------------------------------------------------------


def _items(lesson: QuizLesson, index: int, terms: list[_Term]) -> list[_Item]:
    """Every (sentence, key term of this lesson in it) pair worth a question."""
    own = sorted((t for t in terms if t.lesson == index and t.answerable), key=lambda t: t.rank)
    out: list[_Item] = []
    squashed = " ".join(lesson.content.split())
    cursor = raw_cursor = 0
    for sentence in split_sentences(lesson.content):
        # split_sentences squashes whitespace: `start` is in the squashed content, `offset` (for
        # the page marks) in the content itself, where whitespace inside paragraphs is single.
        found = squashed.find(sentence, cursor)
        start = found if found >= 0 else cursor
        cursor = start
        offset = lesson.content.find(sentence, raw_cursor)
        raw_cursor = max(raw_cursor, offset)
        if not _clozeworthy(sentence):
            continue
        lowered = sentence.lower()
        for term in own:
            if term.surface.lower() not in lowered or _find(term.surface, sentence) is None:
                continue
            # The blank must leave enough of the sentence to answer from.
            if len(sentence) - len(term.surface) * len(_pattern(term.surface).findall(sentence)) >= 30:
                out.append(_Item(index, sentence, term, _defines(term.surface, sentence), start / len(squashed),
                                 offset))
    return out


def _defines(surface: str, sentence: str) -> bool:
    """"X is ...", "An X consists of ..." or "... called X": the sentence defines the term."""
    term = re.escape(surface)
    return bool(
        re.match(rf"(?:An?\s+|The\s+)?{term}\s+{_DEFINING_VERBS}\b", sentence, re.IGNORECASE)
        or re.search(rf"\b(?:called|known as|termed)\s+(?:an?\s+|the\s+)?{term}\b", sentence, re.IGNORECASE)
    )


def _clozeworthy(sentence: str) -> bool:
    """A complete prose sentence of 7-45 words, not code, a link or a fragment."""
    tokens = sentence.split()
    if not 7 <= len(tokens) <= 45 or not sentence.endswith((".", "!", "?")) or not sentence[0].isupper():
        return False
    if "://" in sentence or sentence.count("(") != sentence.count(")"):
        return False
    wordy = sum(1 for t in tokens if re.fullmatch(r"[\"'(“‘]?[A-Za-z][A-Za-z’'-]*[.,;:!?)\"”’]*", t))
    return wordy >= 0.75 * len(tokens) and "<-" not in sentence


def _rank_items(items: list[_Item], difficulty: str) -> list[_Item]:
    """Best first for the difficulty; ties keep the lesson's order, so ranking is deterministic."""

    def score(item: _Item) -> float:
        n_words = len(item.sentence.split())
        key_rank = 1.0 / (1 + item.term.rank)
        if difficulty == "easy":
            return 2.0 * item.defining + (n_words <= 22) + key_rank
        if difficulty == "hard":
            return -1.0 * item.defining + (n_words >= 20) + (item.term.words > 1) * 0.5 + (1 - key_rank)
        return 0.5 * item.defining + key_rank + 0.3 * (item.term.words > 1)

    return sorted(items, key=lambda it: -score(it))


# --- wrong options --------------------------------------------------------------------------


def _distractors(item: _Item, terms: list[_Term], difficulty: str, rng: random.Random) -> list[_Term]:
    """Three terms of the answer's kind, unrelated to it and absent from the sentence."""
    answer = item.term
    lowered = item.sentence.lower()
    sentence_terms = set(tokenize(item.sentence))
    fits = [
        t for t in terms
        if t.kind == answer.kind
        and not _related(t, answer)
        and not t.key <= sentence_terms
        and (t.surface.lower() not in lowered or _find(t.surface, item.sentence) is None)
    ]

    def topical(t: _Term) -> float:
        distance = abs(t.lesson - answer.lesson)
        near = 1.0 if distance == 0 else 0.6 if distance <= 2 else 0.0
        return near + (0.5 if t.key & answer.key else 0.0)

    def shape(t: _Term) -> float:
        """Same grammatical shape as the answer, so the sentence itself does not rule it out."""
        return 0.5 * (t.words == answer.words) + 0.3 * (t.plural == answer.plural)

    if difficulty == "easy":
        def score(t: _Term) -> float:
            return 2 * shape(t) - topical(t)  # far-off topics, so the right answer stands out
    elif difficulty == "hard":
        def score(t: _Term) -> float:
            return shape(t) + topical(t) + 0.2 * (abs(len(t.surface) - len(answer.surface)) <= 4)
    else:
        def score(t: _Term) -> float:
            return 2 * shape(t) - abs(topical(t) - 0.6)

    # The seeded tie-break spreads picks over equally good terms instead of the course's first ones.
    ranked = sorted(fits, key=lambda t: (-score(t), rng.random()))
    chosen: list[_Term] = []
    for pick in ranked[: SHORTLIST * 3]:
        if len(chosen) == OPTIONS - 1:
            break
        if not any(_related(pick, c) for c in chosen) and rng.random() < 0.7:
            chosen.append(pick)
    for pick in ranked:  # the random skips above may have left too few
        if len(chosen) == OPTIONS - 1:
            break
        if pick not in chosen and not any(_related(pick, c) for c in chosen):
            chosen.append(pick)
    return chosen


def _related(a: _Term, b: _Term) -> bool:
    """One option contains the other, by words ("vectors" / "logical vector") or by letters
    ("date" / "update"): side by side they would give the answer away or read as a trick."""
    x, y = a.surface.lower(), b.surface.lower()
    return a.key <= b.key or b.key <= a.key or x in y or y in x


# --- text helpers ---------------------------------------------------------------------------


@lru_cache(maxsize=8192)
def _pattern(surface: str) -> re.Pattern[str]:
    # Not inside a dotted or hyphenated name: no "install" in "install.packages()", no "light" in
    # "light-dependent".
    return re.compile(rf"(?<![\w.-]){re.escape(surface)}(?![\w]|[.-]\w)", re.IGNORECASE)


def _find(surface: str, text: str) -> re.Match[str] | None:
    return _pattern(surface).search(text)


def _page_of(item: _Item, lesson: QuizLesson) -> int:
    """The page the sentence starts on: read from the lesson's page marks, else estimated."""
    if lesson.page_marks and item.offset >= 0:
        return page_at(lesson.page_marks, item.offset, lesson.page_start)
    if lesson.page_end <= lesson.page_start or not lesson.content:
        return lesson.page_start
    return min(lesson.page_end, lesson.page_start + int(item.at * (lesson.page_end - lesson.page_start + 1)))
