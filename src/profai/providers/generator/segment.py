"""Topic segmentation for documents without outline or headings (TextTiling-style)."""

from __future__ import annotations

import bisect
import math
from collections import Counter

import numpy as np
from numpy.typing import NDArray

from profai.providers.generator.keyterms import fold_plural
from profai.providers.generator.sections import ModulePlan, Para, Section, sentence_pieces
from profai.text import content_words, split_sentences

WINDOW_SENTENCES = 5
MIN_SEGMENT_WORDS = 100
LESSONS_PER_MODULE = 6


def topic_plans(paras: list[Para]) -> list[ModulePlan]:
    """Cut the text at its deepest lexical-cohesion valleys; group the segments into modules."""
    # Long paragraphs give too few cut points, so cut them into runs of a few sentences.
    units = sentence_pieces(paras, 80)
    cuts = texttiling(units)
    bounds = [0, *cuts, len(units)]
    sections = [Section(None, units[a:b]) for a, b in zip(bounds, bounds[1:]) if b > a]
    groups = max(1, math.ceil(len(sections) / LESSONS_PER_MODULE))
    size = math.ceil(len(sections) / groups)
    return [ModulePlan(None, sections[i : i + size]) for i in range(0, len(sections), size)]


def texttiling(units: list[Para], min_words: int = MIN_SEGMENT_WORDS) -> list[int]:
    """Indices of units that start a new topic, chosen by depth score at cohesion valleys."""
    if len(units) < 3:
        return []
    bags: list[Counter[str]] = []
    starts: list[int] = []
    for unit in units:
        starts.append(len(bags))
        bags.extend(Counter(fold_plural(w) for w in content_words(s)) for s in split_sentences(unit.text))
    scores = np.array([_cohesion(bags, starts[g]) for g in range(1, len(units))])
    if len(scores) >= 3:
        # Light smoothing stops single odd sentences from looking like topic shifts.
        scores = np.convolve(np.pad(scores, 1, mode="edge"), np.ones(3) / 3, mode="valid")
    depth = _depths(scores)
    threshold = float(depth.mean())
    cum = np.concatenate([[0], np.cumsum([u.words for u in units])])
    accepted: list[int] = []  # unit indices that start a segment, kept sorted
    # Deepest valleys first; a stable sort keeps ties in document order, so results are deterministic.
    for gap in np.argsort(-depth, kind="stable"):
        if depth[gap] <= threshold or depth[gap] <= 0:
            break
        cut = int(gap) + 1
        pos = bisect.bisect_left(accepted, cut)
        left = accepted[pos - 1] if pos else 0
        right = accepted[pos] if pos < len(accepted) else len(units)
        if cum[cut] - cum[left] >= min_words and cum[right] - cum[cut] >= min_words:
            accepted.insert(pos, cut)
    return accepted


def _cohesion(bags: list[Counter[str]], at: int) -> float:
    """Cosine similarity of the sentence windows either side of sentence index `at`."""
    left: Counter[str] = Counter()
    right: Counter[str] = Counter()
    for bag in bags[max(0, at - WINDOW_SENTENCES) : at]:
        left.update(bag)
    for bag in bags[at : at + WINDOW_SENTENCES]:
        right.update(bag)
    if not left or not right:
        return 0.0
    dot = sum(n * right[w] for w, n in left.items() if w in right)
    norm = math.sqrt(sum(n * n for n in left.values()) * sum(n * n for n in right.values()))
    return dot / norm


def _depths(scores: NDArray[np.float64]) -> NDArray[np.float64]:
    """Depth of each gap below the peaks reached by climbing left and right (linear time)."""
    n = len(scores)
    left = scores.copy()
    for i in range(1, n):
        if scores[i - 1] >= scores[i]:
            left[i] = left[i - 1]
    right = scores.copy()
    for i in range(n - 2, -1, -1):
        if scores[i + 1] >= scores[i]:
            right[i] = right[i + 1]
    return (left - scores) + (right - scores)
