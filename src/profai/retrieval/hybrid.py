"""Hybrid search over a course collection: vector and BM25 rankings fused by Reciprocal Rank Fusion."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from profai.domain import Passage
from profai.retrieval.bm25 import BM25Index
from profai.stores.vectors import VectorHit, VectorStore

Mode = Literal["hybrid", "vector", "keyword"]
MODES: tuple[str, ...] = ("hybrid", "vector", "keyword")

RRF_K = 60  # Cormack et al. (2009); large k flattens the head so neither list dominates
# Candidates taken from each ranking before fusion; see bench/retrieval.py for the sweep.
CANDIDATES = 30
# BM25's share in the fusion, the vector ranking's being 1. Passages fit the model's window, so the
# vectors see all of each one and earn the larger share (bench/retrieval.py sweeps it).
KEYWORD_WEIGHT = 0.5
CACHE_COURSES = 4




@dataclass(frozen=True)
class Scope:
    """Pages of one source file: a search within it keeps passages that overlap them (a lesson's)."""

    source_file: str
    page_start: int
    page_end: int

    def where(self) -> dict[str, Any]:
        """The vector store's metadata filter (stores.vectors.build_where joins the keys with $and)."""
        return {"source_file": self.source_file, "page_start": {"$lte": self.page_end},
                "page_end": {"$gte": self.page_start}}

    def holds(self, metadata: dict[str, Any]) -> bool:
        start = int(metadata.get("page_start", 0))
        end = int(metadata.get("page_end", start))
        return metadata.get("source_file") == self.source_file and start <= self.page_end and end >= self.page_start


@dataclass(frozen=True)
class _Corpus:
    count: int
    index: BM25Index
    hits: dict[str, VectorHit]


def rrf(rankings: list[list[str]], k: int = RRF_K, weights: list[float] | None = None) -> list[tuple[str, float]]:
    """Reciprocal Rank Fusion: sum of weight / (k + rank) over the rankings, best first."""
    weights = weights or [1.0] * len(rankings)
    fused: dict[str, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, item in enumerate(ranking, start=1):
            fused[item] = fused.get(item, 0.0) + weight / (k + rank)
    # Python's sort is stable: equal scores keep first-seen order, so results are deterministic.
    return sorted(fused.items(), key=lambda kv: -kv[1])


class HybridRetriever:
    """Searches one collection by vectors, BM25 keywords, or both fused with RRF.

    The BM25 index of a collection is built from `VectorStore.all` on first use and cached for
    the last few collections; a changed item count (passages added or removed) rebuilds it."""

    def __init__(
        self,
        vectors: VectorStore,
        embed_query: Callable[[str], list[float]],
        *,
        candidates: int = CANDIDATES,
        rrf_k: int = RRF_K,
        keyword_weight: float = KEYWORD_WEIGHT,
        cache_size: int = CACHE_COURSES,
    ) -> None:
        self.vectors = vectors
        self.embed_query = embed_query
        self.candidates = candidates
        self.rrf_k = rrf_k
        self.keyword_weight = keyword_weight
        self.cache_size = cache_size
        self._cache: OrderedDict[str, _Corpus] = OrderedDict()
        self._lock = threading.Lock()

    def search(self, collection: str, query: str, top_k: int = 5, mode: Mode = "hybrid",
               within: Scope | None = None) -> list[Passage]:
        """The top_k passages of `collection` for `query`, best first; [] for a missing collection.
        `within` keeps only the passages on those pages."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        if top_k < 1 or not query.strip():
            return []
        depth = max(top_k, self.candidates)
        vector_hits: list[VectorHit] = []
        keyword_hits: list[tuple[str, float]] = []
        corpus: _Corpus | None = None
        if mode in ("hybrid", "keyword"):
            corpus = self.corpus(collection)
            if corpus is None:
                return []
            if within is None:
                keyword_hits = corpus.index.search(query, depth)
            else:  # every positive score, then the scope's: a lesson's passages may rank low course-wide
                keyword_hits = [(i, sc) for i, sc in corpus.index.search(query, corpus.count)
                                if within.holds(corpus.hits[i].metadata)][:depth]
        if mode in ("hybrid", "vector"):
            vector_hits = self.vectors.query(collection, self.embed_query(query), top_k=depth,
                                             where=within.where() if within else None)

        by_id = {h.id: h for h in vector_hits}
        cosine = {h.id: h.score for h in vector_hits}
        bm25 = dict(keyword_hits)
        if mode == "vector":
            ranked = [(h.id, h.score) for h in vector_hits]
        elif mode == "keyword":
            ranked = keyword_hits
        else:
            ranked = rrf(
                [[h.id for h in vector_hits], [i for i, _ in keyword_hits]],
                k=self.rrf_k,
                weights=[1.0, self.keyword_weight],
            )
        out = []
        for item_id, score in ranked[:top_k]:
            hit = by_id.get(item_id) or (corpus.hits.get(item_id) if corpus else None)
            if hit is not None:
                out.append(_passage(hit, score, cosine.get(item_id), bm25.get(item_id)))
        return out

    def corpus(self, collection: str) -> _Corpus | None:
        """The collection's cached BM25 index, rebuilt when its item count changed; None if empty."""
        count = self.vectors.count(collection)
        with self._lock:
            cached = self._cache.get(collection)
            if cached is not None and cached.count == count:
                self._cache.move_to_end(collection)
                return cached
        if count == 0:
            with self._lock:
                self._cache.pop(collection, None)
            return None
        # Built outside the lock: a few thousand passages take well under a second, and two
        # threads racing on the same course only build it twice.
        hits = self.vectors.all(collection)
        corpus = _Corpus(count=len(hits), index=BM25Index((h.id, h.text) for h in hits), hits={h.id: h for h in hits})
        with self._lock:
            self._cache[collection] = corpus
            self._cache.move_to_end(collection)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return corpus

    def forget(self, collection: str) -> None:
        """Drop a collection's cached index (e.g. after the course was deleted)."""
        with self._lock:
            self._cache.pop(collection, None)


def _passage(hit: VectorHit, score: float, cosine: float | None, bm25: float | None) -> Passage:
    meta = hit.metadata
    return Passage(
        id=hit.id,
        text=hit.text,
        source_file=str(meta.get("source_file", "")),
        page_start=int(meta.get("page_start", 0)),
        page_end=int(meta.get("page_end", meta.get("page_start", 0))),
        score=float(score),
        vector_score=cosine,
        keyword_score=bm25,
    )
