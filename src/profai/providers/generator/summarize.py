"""Extractive summaries: the most central sentences by TextRank over TF-IDF cosine similarity."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from profai.text import content_words, split_sentences

DAMPING = 0.85
MAX_CANDIDATES = 200  # the similarity matrix is quadratic; lessons are capped well below this


def summarize(text: str, max_sentences: int = 3) -> str:
    """2-3 central sentences of `text`, verbatim and in their original order."""
    sentences = split_sentences(text)
    if not sentences:
        return ""
    candidates = [i for i, s in enumerate(sentences) if _summary_worthy(s)] or list(range(len(sentences)))
    candidates = candidates[:MAX_CANDIDATES]
    wanted = min(max_sentences, 2 if len(candidates) < 8 else 3)
    if len(candidates) <= wanted:
        chosen = candidates
    else:
        ranks = textrank([sentences[i] for i in candidates])
        # Stable sort on -rank: equal ranks go to the earlier sentence, keeping output deterministic.
        best = np.argsort(-ranks, kind="stable")[:wanted]
        chosen = sorted(candidates[i] for i in best)
    return " ".join(sentences[i] for i in chosen)


def _summary_worthy(sentence: str) -> bool:
    """Full prose sentences only: no headings, code lines or fragments."""
    n = len(sentence.split())
    if not 6 <= n <= 50 or not sentence.endswith((".", "!", "?")) or sentence[-2:-1].isspace():
        return False  # "...defined structure² ." ends at a stray stop: the splitter cannot tell where
    if not sentence[0].isupper():
        return False
    return len(content_words(sentence)) >= 3


def textrank(sentences: list[str], iterations: int = 60) -> NDArray[np.float64]:
    """PageRank scores of sentences on their TF-IDF cosine-similarity graph."""
    bags = [content_words(s) for s in sentences]
    vocab: dict[str, int] = {}
    for bag in bags:
        for word in bag:
            vocab.setdefault(word, len(vocab))
    n = len(sentences)
    if not vocab:
        return np.full(n, 1.0 / n)
    tf = np.zeros((n, len(vocab)))
    for row, bag in enumerate(bags):
        for word in bag:
            tf[row, vocab[word]] += 1.0
    df = (tf > 0).sum(axis=0)
    weights = tf * (np.log((1 + n) / (1 + df)) + 1.0)
    norms = np.linalg.norm(weights, axis=1, keepdims=True)
    unit = weights / np.where(norms == 0, 1.0, norms)
    sim = unit @ unit.T
    np.fill_diagonal(sim, 0.0)
    out_weight = sim.sum(axis=1, keepdims=True)
    # A sentence sharing no words with the others links to all equally instead of leaking rank.
    transition = np.where(out_weight > 0, sim / np.where(out_weight == 0, 1.0, out_weight), 1.0 / n)
    rank = np.full(n, 1.0 / n)
    for _ in range(iterations):
        updated = (1 - DAMPING) / n + DAMPING * (transition.T @ rank)
        if np.abs(updated - rank).sum() < 1e-9:
            return updated
        rank = updated
    return rank
