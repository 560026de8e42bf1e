"""Extractive chat answers: the retrieved sentences that best answer a question, each cited.

Nothing is written that is not in the course: an answer is 2-4 verbatim sentences from the
passages, and when the passages do not carry the question's words (nor, if known, its meaning)
the answer says so instead."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from profai.domain import Answer, Citation, Passage
from profai.retrieval.bm25 import bm25_idf, is_index_word, stem, tokenize
from profai.text import split_sentences, words

Embed = Callable[[Sequence[str]], list[list[float]]]

NOT_FOUND = "I couldn't find this in the course material."
MAX_SENTENCES = 4
MIN_SENTENCES = 2

# Grounding thresholds, calibrated on bench/retrieval.py (on-topic vs off-topic questions over
# R-intro.pdf with all-MiniLM-L6-v2 cosine scores).
# Evidence = closest passage cosine + COVERAGE_WEIGHT * best sentence coverage (the idf-weighted
# share of the question's terms it contains). Off-topic questions scored at most 0.38, on-topic
# ones at least 0.41; without cosines (keyword search) coverage alone must reach MIN_COVERAGE.
MIN_EVIDENCE = 0.40
COVERAGE_WEIGHT = 0.5
MIN_COVERAGE = 0.30
RANK_WEIGHT = 0.15  # bonus of the first passage over the last, in coverage units
SIMILARITY_WEIGHT = 1.0  # sentence-question cosine, when an embedder is given
EXPANSION_WEIGHT = 0.5  # terms borrowed from earlier questions count half

# Words that phrase a question rather than say what it is about.
_FILLER = frozenset(
    stem(w)
    for w in ["explain", "explained", "mean", "means", "meaning", "tell", "describe", "please", "thing", "things", "something", "anything", "happen", "happens", "way", "ways", "want", "know", "difference", "differ", "work", "works", "exactly", "actually", "really"]
)
_ANAPHORA = frozenset(["it", "its", "it's", "they", "them", "their", "theirs", "this", "these", "those", "one", "ones"])
_FOLLOW_UP_RE = re.compile(r"^\s*(?:and|also|but|so|what about|how about|and what about|why not)\b", re.IGNORECASE)
_SHORT_QUESTION = 2  # topic terms at most this many: the question leans on the conversation
_HISTORY_TURNS = 2
_BULLET_RE = re.compile(r"^[•◦▪‣·*–-]\s+")
_WORD_TOKEN_RE = re.compile(r"[\"'(“‘]?[A-Za-z][a-z’'-]*[.,;:!?)\"”’]*")






@dataclass(frozen=True)
class _Candidate:
    text: str
    passage: int  # rank of its passage, 0 = best
    order: int  # position within the passage
    terms: frozenset[str]


def topic_terms(text: str) -> list[str]:
    """Stemmed terms of a question that say what it is about (no stop or filler words)."""
    return [t for t in tokenize(text) if t not in _FILLER]


def is_follow_up(question: str) -> bool:
    """True when a question leans on the conversation: very short, a pronoun, or "what about ..."."""
    lowered = [w.replace("’", "'") for w in words(question)]
    return (
        len(topic_terms(question)) <= _SHORT_QUESTION
        or any(w in _ANAPHORA for w in lowered)
        or bool(_FOLLOW_UP_RE.match(question))
    )


def expand_query(question: str, history: Sequence[tuple[str, str]] = ()) -> str:
    """The question plus topic words of the last questions when it is a follow-up; else unchanged.

    `history` holds (question, answer) pairs, oldest first; only the questions are used, since
    answers quote long passages that would drown the new question."""
    if not history or not is_follow_up(question):
        return question
    have = set(topic_terms(question))
    extra: list[str] = []
    for previous, _ in list(history)[::-1][:_HISTORY_TURNS]:
        for word in words(previous):
            term = stem(word)
            if is_index_word(word) and term not in _FILLER and term not in have:
                have.add(term)
                extra.append(word)
        if len(extra) >= 3:
            break  # the latest question named the topic; older ones would only dilute it
    return f"{question} {' '.join(extra)}".strip() if extra else question


def answer_question(
    question: str,
    passages: Sequence[Passage],
    history: Sequence[tuple[str, str]] = (),
    embed: Embed | None = None,
) -> Answer:
    """Answer from `passages` (best first) with 2-4 cited sentences, or say it is not in the course.

    With `embed` (texts -> unit vectors, e.g. OnnxMiniLM().embed) sentences are also ranked by
    their closeness in meaning to the question, which helps questions worded unlike the text."""
    query = expand_query(question, history)
    weights = _query_weights(question, query)
    candidates = _candidates(passages)
    if not weights or not candidates:
        return _not_found()
    idf = _idf(candidates)
    total = sum(w * idf(t) for t, w in weights.items())
    coverage = [sum(w * idf(t) for t, w in weights.items() if t in c.terms) / total for c in candidates]
    if not _grounded(max(coverage), passages):
        return _not_found()
    similarity = _similarity(embed, query, candidates) if embed else [0.0] * len(candidates)
    prior = len(passages)
    scores = [
        cov + RANK_WEIGHT * (1 - c.passage / prior) + SIMILARITY_WEIGHT * sim
        for c, cov, sim in zip(candidates, coverage, similarity)
    ]
    scored = sorted(((s, i) for i, s in enumerate(scores)), key=lambda si: (-si[0], si[1]))
    best_score, best = scored[0]

    chosen = [best]
    for s, i in scored[1:]:
        if len(chosen) >= MAX_SENTENCES or s < 0.6 * best_score:
            break
        on_topic = coverage[i] > 0 or similarity[i] >= 0.8 * similarity[best] > 0
        if on_topic and not _redundant(candidates[i], [candidates[j] for j in chosen]):
            chosen.append(i)
    if len(chosen) < MIN_SENTENCES:
        neighbour = _neighbour(candidates, best)
        if neighbour is not None:
            chosen.append(neighbour)
    return _render([candidates[i] for i in chosen], passages)


def _similarity(embed: Embed, query: str, candidates: list[_Candidate]) -> list[float]:
    vectors = np.asarray(embed([query] + [c.text for c in candidates]), dtype=np.float64)
    return [float(x) for x in vectors[1:] @ vectors[0]]


def _query_weights(question: str, query: str) -> dict[str, float]:
    """Term weights: the question's own terms 1, terms borrowed from history EXPANSION_WEIGHT."""
    weights = dict.fromkeys(topic_terms(question), 1.0)  # a dict, not a set: sums in a fixed order
    for t in topic_terms(query):
        weights.setdefault(t, EXPANSION_WEIGHT)
    return weights


def _candidates(passages: Sequence[Passage]) -> list[_Candidate]:
    """Prose sentences of the passages; a sentence repeated by overlapping chunks is kept once."""
    seen: set[str] = set()
    out: list[_Candidate] = []
    for rank, passage in enumerate(passages):
        for order, sentence, key, terms in _prose(passage.text):
            if key not in seen:
                seen.add(key)
                out.append(_Candidate(sentence, rank, order, terms))
    return out


@lru_cache(maxsize=4096)
def _prose(text: str) -> tuple[tuple[int, str, str, frozenset[str]], ...]:
    """(position, sentence, dedup key, terms) of a passage's answer-worthy sentences; cached since
    the same passages come back question after question."""
    out = []
    for order, sentence in enumerate(split_sentences(text)):
        sentence = _BULLET_RE.sub("", sentence)
        if _answer_worthy(sentence):
            out.append((order, sentence, " ".join(sentence.lower().split()), frozenset(tokenize(sentence))))
    return tuple(out)


def _answer_worthy(sentence: str) -> bool:
    """Readable prose: 5-70 words, mostly words rather than code, not a heading or a fragment."""
    tokens = sentence.split()
    if not 5 <= len(tokens) <= 70 or sentence.rstrip()[-1:] not in ".!?:)\"”":
        return False
    # A lowercase start is the tail of a sentence cut by a code line or a page break, unless it
    # is a name from code ("sort(x) returns ...", "is.na(x) gives ...").
    first = tokens[0]
    if first[0].islower() and not any(ch in first for ch in "(._"):
        return False
    wordy = sum(1 for t in tokens if _WORD_TOKEN_RE.fullmatch(t))
    return wordy >= 0.6 * len(tokens)


def _idf(candidates: list[_Candidate]) -> Callable[[str], float]:
    """BM25-style idf over the candidate sentences; a term none of them has gets the highest."""
    n = len(candidates)
    df = Counter(t for c in candidates for t in c.terms)

    def idf(term: str) -> float:
        return bm25_idf(n, df.get(term, 0))

    return idf


def _grounded(coverage: float, passages: Sequence[Passage]) -> bool:
    cosines = [p.vector_score for p in passages if p.vector_score is not None]
    if not cosines:
        return coverage >= MIN_COVERAGE
    return max(cosines) + COVERAGE_WEIGHT * coverage >= MIN_EVIDENCE


def _redundant(candidate: _Candidate, chosen: list[_Candidate]) -> bool:
    """Mostly the same words as a sentence already chosen."""
    for other in chosen:
        union = candidate.terms | other.terms
        if union and len(candidate.terms & other.terms) / len(union) > 0.6:
            return True
    return False


def _neighbour(candidates: list[_Candidate], best: int) -> int | None:
    """The sentence after the best one in its passage (else the one before): its context."""
    b = candidates[best]
    same = [i for i, c in enumerate(candidates) if c.passage == b.passage and i != best]
    after = [i for i in same if candidates[i].order > b.order]
    before = [i for i in same if candidates[i].order < b.order]
    if after:
        return min(after, key=lambda i: candidates[i].order)
    if before:
        return max(before, key=lambda i: candidates[i].order)
    return None


def _render(chosen: list[_Candidate], passages: Sequence[Passage]) -> Answer:
    """Group sentences by passage (best passage first), keep source order within one, add markers."""
    by_passage: dict[int, list[_Candidate]] = {}
    for c in chosen:  # chosen is best-first, so dict order is passage relevance order
        by_passage.setdefault(c.passage, []).append(c)
    sentences: list[str] = []
    citations: list[Citation] = []
    for number, (rank, group) in enumerate(by_passage.items(), start=1):
        group.sort(key=lambda c: c.order)
        passage = passages[rank]
        sentences.extend(f"{c.text} [{number}]" for c in group)
        citations.append(
            Citation(
                number=number,
                passage_id=passage.id,
                source_file=passage.source_file,
                page_start=passage.page_start,
                page_end=passage.page_end,
                quotes=tuple(c.text for c in group),
            )
        )
    return Answer(text=" ".join(sentences), sentences=sentences, citations=citations, grounded=True)


def _not_found() -> Answer:
    return Answer(text=NOT_FOUND, sentences=[NOT_FOUND], citations=[], grounded=False)
