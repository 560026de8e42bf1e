"""Embedding many texts from a pipeline. The embedder decides where it runs: the local model in
the compute processes (CPU-bound, beside the API's GIL), anything else in the calling thread (a
hosted API is I/O-bound and rate limited across processes by the embedder itself). Wiring picks
one; pipelines only call `embed_batches`."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from profai.pipelines import heavy
from profai.pipelines.compute import ComputePool
from profai.providers.embedder import Embedder
from profai.providers.http_retry import ProviderError

Vector = list[float]

# Statuses by which a hosted API refuses the input itself (too long, say), not the request.
INPUT_REFUSED = (400, 413, 422)


class BatchEmbedder(Protocol):
    def embed_batches(self, batches: Sequence[list[str]], deadline: float | None = None, *,
                      keep_refused: bool = False) -> Iterator[list[Vector | None]]:
        """Vectors for each batch of texts, in order, as each batch is ready. With `keep_refused`,
        a text the service refuses gets None instead of failing its batch (callers that can
        report a single row); `deadline` (time.monotonic) bounds hosted calls."""
        ...


class PooledEmbedder:
    """The local model, its batches spread over the compute processes."""

    def __init__(self, compute: ComputePool) -> None:
        self.compute = compute

    def embed_batches(self, batches: Sequence[list[str]], deadline: float | None = None, *,
                      keep_refused: bool = False) -> Iterator[list[Vector | None]]:
        # A local model refuses no text; the job's own checks bound its time.
        return self.compute.imap(heavy.embed, [(b,) for b in batches])


class DirectEmbedder:
    """An embedder called from this thread, batch after batch."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def embed_batches(self, batches: Sequence[list[str]], deadline: float | None = None, *,
                      keep_refused: bool = False) -> Iterator[list[Vector | None]]:
        return (self._embed(b, deadline, keep_refused) for b in batches)

    def _embed(self, texts: list[str], deadline: float | None, keep_refused: bool) -> list[Vector | None]:
        try:
            return list(self.embedder.embed(texts, deadline=deadline))
        except ProviderError as exc:
            if not keep_refused or exc.http_status not in INPUT_REFUSED:
                raise
            if len(texts) == 1:
                return [None]
        # One bad text refused the whole batch: find it by embedding the texts one by one.
        return [v for t in texts for v in self._embed([t], deadline, True)]
