"""Wrong options: key terms of the course of the answer's kind, ranked by how close they are in
meaning to the answer when term embeddings are at hand, else by where in the course they occur.

Near neighbours make a question that needs the course to answer; but a neighbour so near it means
the same thing (cosine above NEAR_DUPLICATE, a shared head word, one inside the other) would be a
second right answer, so it is left out."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import NDArray

from profai.providers.generator.base import EmbedFn
from profai.providers.generator.once_cache import once_cache
from profai.providers.generator.quiz_terms import Term, related

NEAR_DUPLICATE = 0.9
SHORTLIST = 4  # the seed picks among about this many best candidates, for variety
SHAPE_WEIGHT = 0.1  # a same-shaped term (word count, plural) fits the sentence, so does not stand out


@once_cache(maxsize=8)
def term_vectors(embed: EmbedFn, surfaces: tuple[str, ...]) -> NDArray[np.float32]:
    """One unit vector per term, embedded in one batch. Kept for the last few courses: every quiz
    of a course needs the same vectors (~0.7 s for R-intro's ~350 terms on 2 cores)."""
    vectors = np.asarray(embed(list(surfaces)), dtype=np.float32)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


class Neighbours:
    """Chooses wrong options for an answer among `terms`, by meaning if `vectors` (one row per
    term, in order) are given."""

    def __init__(self, terms: Sequence[Term], vectors: NDArray[np.float32] | None = None) -> None:
        self.terms = list(terms)
        self._row = {t.key: i for i, t in enumerate(self.terms)}
        self._vectors = vectors

    @property
    def by_meaning(self) -> bool:
        return self._vectors is not None

    def cosine(self, a: Term, b: Term) -> float | None:
        """Closeness in meaning, -1..1; None without vectors."""
        if self._vectors is None:
            return None
        return float(self._vectors[self._row[a.key]] @ self._vectors[self._row[b.key]])

    def pick(self, answer: Term, difficulty: str, rng: random.Random, *, among: Sequence[Term] | None = None,
             allowed: Callable[[Term], bool] | None = None, k: int = 3, by_head: bool = True) -> list[Term]:
        """Up to `k` terms of the answer's kind, from `among` (default: every term) and passing
        `allowed`, unrelated to the answer and to each other. `by_head=False` lets terms sharing a
        head word through: their definitions ("local" / "free variables") differ all the same."""
        fits = [t for t in (self.terms if among is None else among)
                if t.kind == answer.kind and not self._alike(t, answer, by_head) and (allowed is None or allowed(t))]
        ranked = self._ranked(answer, fits, difficulty, rng)
        start = self._window_start(difficulty, len(ranked))
        # Past the difficulty's window come the nearer ones left out: better than too few options.
        ordered = ranked[start:] + ranked[:start][::-1]
        chosen: list[Term] = []
        for candidate in ordered[: SHORTLIST * 3]:
            if len(chosen) == k:
                break
            if not any(self._alike(candidate, c, by_head) for c in chosen) and rng.random() < 0.7:
                chosen.append(candidate)
        for candidate in ordered:  # the random skips above may have left too few
            if len(chosen) == k:
                break
            if candidate not in chosen and not any(self._alike(candidate, c, by_head) for c in chosen):
                chosen.append(candidate)
        return chosen

    def _alike(self, a: Term, b: Term, by_head: bool) -> bool:
        cosine = self.cosine(a, b)
        return a.key == b.key or related(a, b, by_head=by_head) or (cosine is not None and cosine > NEAR_DUPLICATE)

    def _ranked(self, answer: Term, fits: list[Term], difficulty: str, rng: random.Random) -> list[Term]:
        """Best first; the seeded tie-break spreads picks over equally good terms."""

        def shape(t: Term) -> float:
            """Same grammatical shape as the answer, so the sentence itself does not rule it out."""
            return 0.5 * (t.words == answer.words) + 0.3 * (t.plural == answer.plural)

        if self._vectors is not None:
            near = self._vectors[[self._row[t.key] for t in fits]] @ self._vectors[self._row[answer.key]] if fits else []
            scores = [float(c) + SHAPE_WEIGHT * shape(t) for t, c in zip(fits, near)]
        else:
            scores = [_by_place(t, answer, shape(t), difficulty) for t in fits]
        order = sorted(range(len(fits)), key=lambda i: (-scores[i], rng.random()))
        return [fits[i] for i in order]

    def _window_start(self, difficulty: str, n: int) -> int:
        """How many of the nearest terms a difficulty skips: none for "hard"; for "easy" an eighth
        of them, so its options are of the same kind and still of the course, but less near."""
        if self._vectors is None or difficulty == "hard":
            return 0
        return min(3, n // 4) if difficulty == "medium" else max(6, n // 8) if n > 12 else n // 3


def _by_place(t: Term, answer: Term, shape: float, difficulty: str) -> float:
    """Without embeddings: terms of far-off lessons for "easy", of the same or nearby lessons and
    sharing words for "hard"."""
    distance = abs(t.lesson - answer.lesson)
    topical = (1.0 if distance == 0 else 0.6 if distance <= 2 else 0.0) + (0.5 if t.key & answer.key else 0.0)
    if difficulty == "easy":
        return 2 * shape - topical  # far-off topics, so the right answer stands out
    if difficulty == "hard":
        return shape + topical + 0.2 * (abs(len(t.surface) - len(answer.surface)) <= 4)
    return 2 * shape - abs(topical - 0.6)
