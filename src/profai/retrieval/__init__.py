"""Retrieval over a course's passages: BM25 keywords, vectors, and both fused."""

from profai.retrieval.bm25 import BM25Index, stem, tokenize
from profai.retrieval.hybrid import HybridRetriever

__all__ = ["BM25Index", "HybridRetriever", "stem", "tokenize"]
