"""The terms a quiz may ask about or offer as wrong options: the lessons' key terms, each with its
kind (code, acronym, name, plain), so that every option of a question is the same sort of thing.

Only key terms are used. Other salient phrases of a lesson are mostly common words ("penny",
"poetry"), which a student rules out without knowing the course."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from profai.lexicon import can_be_noun
from profai.providers.generator.keyterms import fold_plural
from profai.retrieval.bm25 import tokenize

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
KINDS_OF_TERM = ("code", "acronym", "name", "plain")


@dataclass(frozen=True)
class Term:
    """A key term of the course as options show it."""

    surface: str
    key: frozenset[str]  # stemmed words, to spot duplicates and overlaps
    head: str  # its last word, singular: "logical vectors" -> "vector"
    kind: str  # one of KINDS_OF_TERM
    words: int
    plural: bool
    lesson: int  # index of the first lesson listing it
    rank: int  # 0 = that lesson's best key term
    answerable: bool  # long enough to blank; shorter ones ("lm") may still be wrong options


class CourseText:
    """What the term checks need to know about the course text, found in one pass each."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lower_words = set(re.findall(r"(?<![\w.])[a-z][\w'’-]*", text))
        # Capitalised mid-sentence (after a lowercase word or a comma): a name, not a sentence start.
        self.names = set(re.findall(r"(?<=[a-z,;] )[A-Z][\w'’-]*", text))
        # Names called, indexed, taken apart with `$` or assigned to: "tapply(", "Lst$", "x <-".
        self.called = set(re.findall(r"(?<![\w.])([A-Za-z][\w.]*)(?:\(|\$|\[|\s*<-)", text))
        self.after_cue = {w.lower() for w in re.findall(rf"\b{_NOUN_CUE_RE}\s+([^\W_][\w'’]*)", text, re.IGNORECASE)}
        self.heads = {w.lower() for w in _HEAD_RE.findall(text)}


def term_kind(surface: str, course: CourseText) -> str:
    """code (a name used as code, e.g. "tapply"), acronym ("ATP"), name ("Mendel") or plain."""
    if any(ch in surface for ch in "()._[]$") or surface in course.called:
        return "code"
    if any(sum(ch.isupper() for ch in word) >= 2 for word in surface.split()):
        return "acronym"
    if surface[:1].isupper():
        return "name" if surface.split()[0] in course.names else "plain"
    return "plain"


@lru_cache(maxsize=16)
def term_pool(lessons: tuple[tuple[str, tuple[str, ...]], ...]) -> tuple[Term, ...]:
    """The key terms fit for a quiz, one entry per term, from each lesson's (content, key terms)."""
    course = CourseText("\n\n".join(content for content, _ in lessons))
    pool: dict[frozenset[str], Term] = {}
    for i, (content, key_terms) in enumerate(lessons):
        for rank, surface in enumerate(key_terms):
            term = _make_term(surface, i, rank, course, content)
            if term is not None and term.key not in pool:
                pool[term.key] = term
    return tuple(pool.values())


def _make_term(surface: str, lesson: int, rank: int, course: CourseText, content: str) -> Term | None:
    surface = " ".join(surface.split())
    key = frozenset(tokenize(surface))
    # Whole words only: "RData" of ".RData" could never be blanked or checked against a sentence.
    if not key or find(surface, content) is None:
        return None
    first = surface.split()[0]
    # "Vectors" was first seen starting a sentence; shown as an option it should read "vectors".
    if first[:1].isupper() and not first[1:].isupper() and first not in course.names:
        lowered = surface[:1].lower() + surface[1:]
        if (lowered in course.lower_words) if " " not in surface else (lowered in course.text):
            surface = lowered
    kind = term_kind(surface, course)
    words = surface.split()
    if kind != "code" and (any(ch.isdigit() for ch in surface) or words[-1].lower() in _GENERIC):
        return None  # "Perl1to" is a footnote mark glued to a word; "Section 6.2" is navigation
    if kind == "plain" and not _noun_like(words, course):
        return None
    return Term(surface=surface, key=key, head=fold_plural(words[-1].lower()), kind=kind, words=len(words),
                plural=surface.endswith("s") and not surface.endswith(("ss", "us", "is")), lesson=lesson,
                rank=rank, answerable=len(surface) >= 3)


def _noun_like(words: list[str], course: CourseText) -> bool:
    """A thing worth naming: its head word is not generic, a verb form or an adjective; a lone word
    must also follow "the", "of" and the like somewhere in the course, and end a noun phrase
    somewhere (adjectives never do)."""
    head = words[-1].lower()
    if (len(head) < 4 or head in _GENERIC or any(ch.isdigit() for ch in head) or not _nounish_ending(head)
            or not can_be_noun(head)):
        return False
    return len(words) > 1 or (head in course.after_cue and head in course.heads)


def _nounish_ending(word: str) -> bool:
    if word.endswith("ing") and len(word) > 6:
        return False  # "recycling", "ordering": actions, not things
    return not word.endswith(_ADJECTIVE_ENDINGS)


def related(a: Term, b: Term, *, by_head: bool = True) -> bool:
    """Side by side they would give the answer away or read as a trick: one contains the other,
    by words ("vectors" / "logical vector") or by letters ("date" / "update"), or (`by_head`)
    they share the head word, as near-synonyms do ("logical vector" / "numeric vector")."""
    x, y = a.surface.lower(), b.surface.lower()
    return a.key <= b.key or b.key <= a.key or x in y or y in x or (by_head and a.head == b.head)


def in_text(term: Term, text: str, words: Sequence[str] | None = None) -> bool:
    """The term, or all of its stemmed words, occurs in `text` (`words`: its tokens, if known)."""
    return term.key <= set(words if words is not None else tokenize(text)) or (
        term.surface.lower() in text.lower() and find(term.surface, text) is not None)


@lru_cache(maxsize=8192)
def pattern(surface: str) -> re.Pattern[str]:
    """The term as a whole word, not inside a dotted or hyphenated name: no "install" in
    "install.packages()", no "light" in "light-dependent"."""
    return re.compile(rf"(?<![\w.-]){re.escape(surface)}(?![\w]|[.-]\w)", re.IGNORECASE)


def find(surface: str, text: str) -> re.Match[str] | None:
    return pattern(surface).search(text)


def occurrences(surface: str, text: str) -> int:
    return len(pattern(surface).findall(text))
