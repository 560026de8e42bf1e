"""Key terms: 1-3 word phrases of a lesson weighted by TF-IDF against the whole course, ending on
a word that can be a noun."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from profai.lexicon import can_be_noun
from profai.text import WORD_RE, is_content_word

MAX_NGRAM = 3
_JOINERS = frozenset({"of", "and"})
PHRASE_BONUS = 0.5  # per extra word: a repeated phrase says more than either of its words
# A term ending on a verb, adjective or adverb ("consisting", "currently stored") rarely names a
# concept; weighed down rather than dropped, so a lesson that repeats one still shows it.
NOT_A_NOUN = 0.2


@dataclass
class TermCounts:
    """Candidate terms of one text: counts and the surface form of the first occurrence."""

    counts: Counter[tuple[str, ...]]
    surface: dict[tuple[str, ...], str]


def count_terms(text: str) -> TermCounts:
    """Count candidate n-grams; a phrase only spans words separated by a single space."""
    counts: Counter[tuple[str, ...]] = Counter()
    surface: dict[tuple[str, ...], str] = {}
    run: list[tuple[str, int, int]] = []  # (lowercase token, start, end)
    previous_end = -1
    for match in WORD_RE.finditer(text):
        token, start, end = match.group().lower(), match.start(), match.end()
        # Punctuation or a line break between words ends the phrase, so every term is verbatim text.
        if start != previous_end + 1 or text[previous_end] != " ":
            run = []
        run.append((token, start, end))
        previous_end = end
        for n in range(1, min(MAX_NGRAM, len(run)) + 1):
            gram = run[-n:]
            if not _valid(gram):
                continue
            key = tuple(t for t, _, _ in gram[:-1]) + (fold_plural(gram[-1][0]),)
            counts[key] += 1
            if key not in surface:
                surface[key] = text[gram[0][1] : gram[-1][2]]
        if len(run) > MAX_NGRAM:
            run = run[-MAX_NGRAM:]
    return TermCounts(counts, surface)


def fold_plural(word: str) -> str:
    """Crude singular so "allele" and "alleles" count as one term (no stemmer data is shipped)."""
    if len(word) > 4 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _valid(gram: list[tuple[str, int, int]]) -> bool:
    if not (is_content_word(gram[0][0]) and is_content_word(gram[-1][0])):
        return False
    # Only "of"/"and" may join a phrase ("rate of photosynthesis"); other inner stop words
    # mostly produce fragments like "calculate the sample".
    return all(is_content_word(t) or t in _JOINERS for t, _, _ in gram[1:-1])


class KeyTermIndex:
    """Document frequencies over all lessons of a course, for TF-IDF weighting."""

    def __init__(self, texts: Sequence[TermCounts]):
        self.documents = len(texts)
        self.df: Counter[tuple[str, ...]] = Counter()
        for terms in texts:
            self.df.update(terms.counts.keys())

    def idf(self, key: tuple[str, ...]) -> float:
        return math.log((1 + self.documents) / (1 + self.df.get(key, 0))) + 1.0

    def top_terms(self, terms: TermCounts, limit: int = 8) -> list[str]:
        """Up to `limit` best terms, as written at their first occurrence."""
        scored = []
        for key, count in terms.counts.items():
            if len(key) > 1 and count < 2:
                continue  # a phrase seen once is usually just adjacent words
            weight = count * self.idf(key) * (1 + PHRASE_BONUS * (len(key) - 1))
            if not can_be_noun(key[-1]):
                weight *= NOT_A_NOUN
            scored.append((-weight, -len(key), key))
        scored.sort()
        chosen: list[tuple[str, ...]] = []
        for _, _, key in scored:
            clash = next((c for c in chosen if _overlaps(c, key)), None)
            if clash is None:
                chosen.append(key)
            elif len(key) > len(clash) and terms.counts[key] >= 0.6 * terms.counts[clash] and can_be_noun(key[-1]):
                # The longer phrase carries most uses of the word: show the phrase instead.
                chosen[chosen.index(clash)] = key
            if len(chosen) >= limit * 3:
                break
        unique = list(dict.fromkeys(chosen))[:limit]
        return [terms.surface[key] for key in unique]


def _overlaps(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    return any(long_[i : i + len(short)] == short for i in range(len(long_) - len(short) + 1))
