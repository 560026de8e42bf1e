"""Embedding many texts from a pipeline, one way for every backend: the local model runs in the
compute processes (CPU-bound), a hosted API is called from the job's own thread (I/O-bound,
rate limited across processes by the embedder itself)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from profai.pipelines import heavy
from profai.providers.http_retry import ProviderError

if TYPE_CHECKING:
    from profai.wiring import Container


# Statuses by which a hosted API refuses the input itself (too long, say), not the request.
INPUT_REFUSED = (400, 413, 422)


def embed_batches(
    ctx: Container, batches: list[list[str]], deadline: float | None = None, *, keep_refused: bool = False
) -> Iterator[list[list[float] | None]]:
    """Vectors for each batch of texts, in order, as each batch is ready. With `keep_refused`, a text
    the hosted service refuses gets None instead of failing its batch (callers that can report a
    single row); otherwise the refusal fails the step. `deadline` (time.monotonic) bounds hosted calls."""
    if ctx.settings.embedder == "local":
        return ctx.compute.imap(heavy.embed, [(b,) for b in batches])
    return (_hosted(ctx, b, deadline, keep_refused) for b in batches)


def _hosted(ctx: Container, texts: list[str], deadline: float | None, keep_refused: bool
            ) -> list[list[float] | None]:
    try:
        return ctx.embedder.embed(texts, deadline=deadline)
    except ProviderError as exc:
        if not keep_refused or exc.http_status not in INPUT_REFUSED:
            raise
        if len(texts) == 1:
            return [None]
    # One bad text refused the whole batch: find it by embedding the texts one by one.
    return [v for t in texts for v in _hosted(ctx, [t], deadline, True)]
