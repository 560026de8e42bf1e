"""The sentences of a lesson a question may be made from: prose only (never code), each paired
with a key term it mentions exactly once, and the definitions the lessons give of key terms."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from profai.providers.generator.keyterms import fold_plural
from profai.providers.generator.quiz_terms import Term, occurrences, pattern
from profai.retrieval.bm25 import tokenize
from profai.text import split_sentences

# Signs of R (or any) code in a sentence: assignment and comparison, braces, calls and empty
# parentheses, indexing, `$`, formulas, namespaces, backticks, underscores, dotted names
# ("dev.print", not "e.g."), key chords ("C-k"), a symbol in quotes (‘<’) and a leading `>` or `+`
# prompt. A blank in such text asks for syntax, not for an idea of the course.
_CODE_RE = re.compile(r"<-|->|[{}$=~\\`#|@^]|\(\)|\w\(|\w\[|%\w*%|::|\w_\w|_{2,}|^\s*[>+]"
                      r"|\b[A-Za-z]\w+\.[A-Za-z]\w+|\b[CM]-\w\b|‘[^\w\s’]+’")
# Openings that lean on the sentences before, so the sentence is no statement on its own.
_ANAPHORIC = re.compile(
    r"(?:It|Its|This|These|Those|They|That|Such|Here|Thus|Hence|Then|So|Also|However|Note|For example|For "
    r"instance|In this|In that|As|But|And|Or|Similarly|Finally|Alternatively|Otherwise|Now|Again|Instead|If)\b")
_IS = r"(?:is|are)"
# "A factor is a vector object used to ...", "Maximum likelihood refers to ...".
_IS_A = re.compile(rf"^(?:(?:An?|The)\s+)?(?P<term>.+?)\s+(?:{_IS}\s+(?=(?:an?|the|one|those)\s)|refers? to\s+|means\s+)"
                   r"(?P<body>.+)$")
# "The collection of objects currently stored is called the workspace."
_CALLED = re.compile(rf"^(?P<body>[A-Z].+?)\s+{_IS}\s+(?:called|known as|termed)\s+(?:(?:an?|the)\s+)?"
                     r"(?P<term>[^,;]+?)\.$")
# "... the numeric vector, which is a single entity consisting of an ordered collection of numbers."
_WHICH_IS = re.compile(rf"(?P<term>(?:[\w.’'-]+\s+){{0,2}}[\w.’'-]+),\s+which\s+{_IS}\s+(?P<body>(?:an?|the)\s[^,;]+)")
_BODY_END = re.compile(r";|,\s+(?:but|and|which|while|although|so)\s|\s+\(")
DEFINITION_WORDS = (4, 30)


@dataclass(frozen=True)
class Sentence:
    """A prose sentence of a lesson and where it starts: `offset` in the lesson's content (-1 if
    not found there as it is), `at` as a share of the lesson (0..1), for page estimates."""

    lesson: int
    text: str
    at: float
    offset: int


@dataclass(frozen=True)
class Item:
    """A sentence with a key term of its lesson that occurs in it once: one blank, no giveaway."""

    sentence: Sentence
    term: Term
    defining: bool  # the sentence defines the term
    standalone: bool  # it reads as a statement without the sentences before it


@dataclass(frozen=True)
class Definition:
    """What a sentence says a key term is, with the term itself left out."""

    sentence: Sentence
    term: Term
    text: str  # "a vector of non-negative integers"


def prose_sentences(content: str, lesson: int) -> list[Sentence]:
    """The lesson's sentences fit to ask about, in order."""
    out: list[Sentence] = []
    squashed = " ".join(content.split())
    cursor = raw_cursor = 0
    for text in split_sentences(content):
        # split_sentences squashes whitespace: `start` is in the squashed content, `offset` (for
        # the page marks) in the content itself, where whitespace inside paragraphs is single.
        found = squashed.find(text, cursor)
        start = found if found >= 0 else cursor
        cursor = start
        offset = content.find(text, raw_cursor)
        raw_cursor = max(raw_cursor, offset)
        if is_prose(text):
            out.append(Sentence(lesson, text, start / max(1, len(squashed)), offset))
    return out


def is_prose(sentence: str) -> bool:
    """A complete sentence of 7-45 words, mostly words, with no code, link or fragment in it."""
    tokens = sentence.split()
    if not 7 <= len(tokens) <= 45 or not sentence.endswith((".", "!", "?")) or not sentence[0].isupper():
        return False
    if "://" in sentence or sentence.count("(") != sentence.count(")") or code_like(sentence):
        return False
    if any(mark in sentence for mark in "[]•"):
        return False  # a cross-reference ("See Section 6.1 [Lists]") or a list run into the sentence
    wordy = sum(1 for t in tokens if re.fullmatch(r"[\"'(“‘]?[A-Za-z][A-Za-z’'-]*[.,;:!?)\"”’]*", t))
    return wordy >= 0.75 * len(tokens)


def code_like(text: str) -> bool:
    """Whether `text` holds code: `x <- c(1, 2)`, `> q()`, `function(n) {`, `df$col`, `y ~ x`."""
    return any(_CODE_RE.search(line) for line in text.splitlines() or [text])


def items(sentences: Sequence[Sentence], own_terms: Sequence[Term]) -> list[Item]:
    """Every (sentence, key term of its lesson) pair worth a question: the term occurs exactly
    once, the rest of the sentence does not spell it out again ("levels ... levels()"), and
    enough of the sentence is left to answer from."""
    out = []
    for sentence in sentences:
        text, lowered = sentence.text, sentence.text.lower()
        for term in own_terms:
            if not term.answerable or term.surface.lower() not in lowered or occurrences(term.surface, text) != 1:
                continue
            rest = pattern(term.surface).sub(" ", text)
            if term.key <= set(tokenize(rest)) or len(rest) < 30:
                continue
            out.append(Item(sentence, term, _defines(term.surface, text), not _ANAPHORIC.match(text)))
    return out


def _defines(surface: str, sentence: str) -> bool:
    """"X is ...", "An X consists of ..." or "... called X": the sentence defines the term."""
    term = re.escape(surface)
    return bool(
        re.match(rf"(?:An?\s+|The\s+)?{term}\s+(?:{_IS}|means|refers to|consists of)\b", sentence, re.IGNORECASE)
        or re.search(rf"\b(?:called|known as|termed)\s+(?:an?\s+|the\s+)?{term}\b", sentence, re.IGNORECASE)
    )


def definitions(sentences: Sequence[Sentence], terms: dict[frozenset[str], Term]) -> list[Definition]:
    """The definitions of key terms these sentences give ("X is a ...", "X refers to ...", "X,
    which is a ...", "... is called X"), each term's first only; `terms` by their stemmed words."""
    out: dict[frozenset[str], Definition] = {}
    for sentence in sentences:
        if _ANAPHORIC.match(sentence.text):
            continue
        for name, phrase in _definition_parts(sentence.text):
            found = terms.get(frozenset(tokenize(name)))
            body = _trim(phrase)
            if found is None or not _same_name(name, found.surface) or found.key in out or body is None:
                continue
            if found.key <= set(tokenize(body)):
                continue  # a definition naming its own term gives the answer away
            out[found.key] = Definition(sentence, found, body)
            break
    return list(out.values())


def _same_name(name: str, surface: str) -> bool:
    """"Vectors" names "vector"; "the first component" does not name "components"."""
    a, b = name.lower().split(), surface.lower().split()
    return len(a) == len(b) and a[:-1] == b[:-1] and fold_plural(a[-1]) == fold_plural(b[-1])


def _definition_parts(text: str) -> list[tuple[str, str]]:
    parts = []
    if match := _IS_A.match(text):
        parts.append((match["term"], match["body"]))
    if match := _CALLED.match(text):
        parts.append((match["term"], match["body"]))
    for match in _WHICH_IS.finditer(text):
        words = match["term"].split()
        # "the numeric vector, which": the term is the last one, two or three words before it,
        # the longest that is a key term.
        parts.extend((" ".join(words[-n:]), match["body"]) for n in range(len(words), 0, -1))
    return parts


def _trim(body: str) -> str | None:
    """The defining phrase up to where the sentence moves on; None if too short or too long, or if
    it is a clause, not a phrase ("... by what are known as X")."""
    body = _BODY_END.split(body, maxsplit=1)[0].strip().rstrip(".!?:").strip()
    n = len(body.split())
    return body if DEFINITION_WORDS[0] <= n <= DEFINITION_WORDS[1] and not body.lower().endswith(" what") else None


def rank_items(found: list[Item], difficulty: str) -> list[Item]:
    """Best first for the difficulty; ties keep the lesson's order, so ranking is deterministic."""

    def score(item: Item) -> float:
        n_words = len(item.sentence.text.split())
        key_rank = 1.0 / (1 + item.term.rank)
        if difficulty == "easy":
            return 2.0 * item.defining + (n_words <= 22) + key_rank
        if difficulty == "hard":
            return -1.0 * item.defining + (n_words >= 20) + (item.term.words > 1) * 0.5 + (1 - key_rank)
        return 0.5 * item.defining + key_rank + 0.3 * (item.term.words > 1)

    return sorted(found, key=lambda it: -score(it))
