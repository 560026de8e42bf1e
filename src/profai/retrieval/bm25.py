"""Okapi BM25 over (id, text) pairs, with the tokens shared by retrieval, answers and quizzes."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable

import numpy as np
from numpy.typing import NDArray

from profai.text import STOPWORDS, words

K1 = 1.2
B = 0.75

_VOWEL_RE = re.compile(r"[aeiouy]")
_POSSESSIVE_RE = re.compile(r"['’]s$")
# Endings after which "es" is a plural suffix ("matches", "indexes"), not part of the stem ("variables").
_ES_PLURAL = ("sses", "shes", "ches", "xes", "zes")
_NO_PLURAL = ("ss", "us", "is")
_DOUBLE_KEEP = frozenset("lsz")  # "call", "miss", "fizz" keep their double letter


def stem(word: str) -> str:
    """A light suffix stemmer: plural, -ed and -ing, a final -e ("functions", "named", "fitting")."""
    w = word
    if len(w) > 4 and w.endswith("ies"):
        w = w[:-3] + "y"
    elif len(w) > 4 and w.endswith(_ES_PLURAL):
        w = w[:-2]
    elif len(w) > 3 and w.endswith("s") and not w.endswith(_NO_PLURAL):
        w = w[:-1]
    elif len(w) > 5 and w.endswith("ing") and _VOWEL_RE.search(w[:-3]):
        w = _undouble(w[:-3])
    elif len(w) > 4 and w.endswith("ed") and not w.endswith("eed") and _VOWEL_RE.search(w[:-2]):
        w = _undouble(w[:-2])
    # "name"/"named"/"names" all end as "nam"; only matching matters, not readability.
    if len(w) > 3 and w.endswith("e"):
        w = w[:-1]
    return w


def _undouble(w: str) -> str:
    if len(w) > 2 and w[-1] == w[-2] and w[-1] not in _DOUBLE_KEEP and w[-1] not in "aeiou":
        return w[:-1]
    return w


def is_index_word(word: str) -> bool:
    """Worth indexing: not a stop word, two or more characters.

    Unlike ingest.text.content_words this keeps two-letter words and numbers: manuals are full
    of short names ("lm", "qr", "na" in is.na) and numbers ("1991", "404") that pin a passage down."""
    return len(word) >= 2 and word not in STOPWORDS


def tokenize(text: str) -> list[str]:
    """Lowercase, stop words out, stemmed: the terms of the BM25 index and of queries.

    Hyphenated words count as their parts ("light-dependent" matches "light") and a
    possessive "'s" is dropped ("R's" is "r")."""
    out: list[str] = []
    for word in words(text):
        word = _POSSESSIVE_RE.sub("", word)
        out.extend(stem(part) for part in word.split("-") if is_index_word(part))
    return out


def bm25_idf(n: int, df: int) -> float:
    """Lucene's BM25 idf of a term found in df of n documents."""
    return math.log(1 + (n - df + 0.5) / (df + 0.5))


class BM25Index:
    """An in-memory Okapi BM25 index; documents are (id, text) pairs, ids must be unique."""

    def __init__(self, documents: Iterable[tuple[str, str]], k1: float = K1, b: float = B) -> None:
        self.k1, self.b = k1, b
        self.ids: list[str] = []
        lengths: list[int] = []
        postings: dict[str, tuple[list[int], list[int]]] = {}
        for doc_id, text in documents:
            counts = Counter(tokenize(text))
            row = len(self.ids)
            self.ids.append(doc_id)
            lengths.append(sum(counts.values()))
            for term, tf in counts.items():
                rows, tfs = postings.setdefault(term, ([], []))
                rows.append(row)
                tfs.append(tf)
        if len(set(self.ids)) != len(self.ids):
            raise ValueError("document ids must be unique")
        length = np.asarray(lengths, dtype=np.float64)
        avg = float(length.mean()) if lengths else 0.0
        # Per-document length normalisation, computed once: k1 * (1 - b + b * len / avg).
        self._norm = k1 * (1 - b + b * length / avg) if avg else np.full(len(lengths), k1)
        self._arrays = {t: (np.asarray(r), np.asarray(f, dtype=np.float64)) for t, (r, f) in postings.items()}

    def __len__(self) -> int:
        return len(self.ids)

    def df(self, term: str) -> int:
        """Number of documents containing the (already stemmed) term."""
        found = self._arrays.get(term)
        return len(found[0]) if found else 0

    def idf(self, term: str) -> float:
        """Lucene's BM25 idf of a stemmed term: always positive, highest for rare terms."""
        return bm25_idf(len(self.ids), self.df(term))

    def scores(self, query: str) -> NDArray[np.float64]:
        """BM25 score of every document for `query`, in index order (0 where no term matches)."""
        out = np.zeros(len(self.ids))
        for term, qtf in Counter(tokenize(query)).items():
            found = self._arrays.get(term)
            if found is None:
                continue
            rows, tf = found
            # A term repeated in the query counts once more per repeat (expanded follow-ups rely on it).
            out[rows] += qtf * self.idf(term) * tf * (self.k1 + 1) / (tf + self._norm[rows])
        return out

    def search(self, query: str, top_k: int = 10) -> list[tuple[str, float]]:
        """Up to top_k (id, score) pairs with a positive score, best first; ties keep index order."""
        if top_k < 1 or not self.ids:
            return []
        scores = self.scores(query)
        hits = np.flatnonzero(scores > 0)
        best = hits[np.argsort(-scores[hits], kind="stable")][:top_k]
        return [(self.ids[i], float(scores[i])) for i in best]
