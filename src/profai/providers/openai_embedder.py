"""Embeddings from any server speaking OpenAI's POST /embeddings (OpenAI, vLLM, Ollama, ...)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from profai.providers.embedder import batched
from profai.providers.http_retry import DEFAULT_POLICY, LazyClient, MalformedResponse, RetryPolicy, post_json
from profai.providers.ratelimit import RateLimiter

# Used until the first answer tells us; only a hint for callers that size storage up front.
KNOWN_DIMENSIONS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536}


class OpenAIEmbedder:
    """Embedder backend for hosted APIs: batches, rate limit, retries, unit-length vectors in input order."""

    def __init__(self, base_url: str, model: str = "text-embedding-3-small", api_key: str | None = None, *,
                 limiter: RateLimiter | None = None, dimension: int | None = None, batch_size: int = 100,
                 concurrency: int = 4, retry: RetryPolicy = DEFAULT_POLICY):
        self.base_url, self.model, self.api_key = base_url.rstrip("/"), model, api_key
        self.limiter = limiter
        self.requested_dimension = dimension
        self.batch_size, self.concurrency = batch_size, max(1, concurrency)
        self.retry = retry
        self.name = f"openai:{model}"
        self.dimension = dimension or KNOWN_DIMENSIONS.get(model, 0)
        # A configured dimension is enforced; otherwise the first answer fixes it.
        self._dimension_fixed = dimension is not None
        self._http = LazyClient(api_key, self.concurrency)
        self._lock = threading.Lock()  # guards the dimension learned from the first answer

    def __getstate__(self) -> dict[str, Any]:
        # Clients and locks do not pickle; worker processes build their own on first use.
        state = {k: getattr(self, k) for k in ("base_url", "model", "api_key", "limiter", "batch_size",
                                                "concurrency", "retry")}
        state["dimension"] = self.requested_dimension
        state["learned"] = self.dimension if self._dimension_fixed else None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        learned = state.pop("learned")
        type(self).__init__(self, **state)
        if learned:
            self.dimension, self._dimension_fixed = learned, True

    def close(self) -> None:
        self._http.close()

    def embed(self, texts: Sequence[str], deadline: float | None = None) -> list[list[float]]:
        """Unit-length vectors, one per text, in input order; `deadline` is a time.monotonic() value.

        Raises ProviderUnavailable (a Retryable) when transient failures outlast the attempts or the
        deadline, ProviderError when the API refuses the request (bad key, model or input).
        """
        batches = list(batched(texts, self.batch_size))
        if len(batches) <= 1 or self.concurrency == 1:
            return [v for batch in batches for v in self._embed_batch(batch, deadline)]
        pool = ThreadPoolExecutor(min(self.concurrency, len(batches)), thread_name_prefix="embed")
        try:
            futures = [pool.submit(self._embed_batch, batch, deadline) for batch in batches]
            return [v for future in futures for v in future.result()]
        finally:
            # After a failure the batches not yet started are of no use.
            pool.shutdown(wait=True, cancel_futures=True)

    def _embed_batch(self, batch: list[str], deadline: float | None) -> list[list[float]]:
        payload: dict[str, Any] = {"model": self.model, "input": batch}
        if self.requested_dimension:
            payload["dimensions"] = self.requested_dimension
        return post_json(self._http.get(), f"{self.base_url}/embeddings", payload,
                         parse=lambda body: self._parse(body, len(batch)), what=f"embeddings ({self.model})",
                         deadline=deadline, limiter=self.limiter, policy=self.retry)

    def _parse(self, body: Any, expected: int) -> list[list[float]]:
        """Check the answer fully before trusting it: a short or ragged answer is retried."""
        try:
            items = sorted(body["data"], key=lambda item: item["index"])
            indices = [item["index"] for item in items]
            vectors = np.asarray([item["embedding"] for item in items], dtype=np.float32)
        except (KeyError, TypeError, ValueError) as exc:
            raise MalformedResponse(f"unexpected embeddings answer ({type(exc).__name__}: {exc})") from None
        if indices != list(range(expected)):
            raise MalformedResponse(f"expected {expected} embeddings indexed 0..{expected - 1}, got {len(items)}")
        if vectors.ndim != 2 or vectors.shape[1] == 0:
            raise MalformedResponse("embeddings are not equal-length lists of numbers")
        self._check_dimension(vectors.shape[1])
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        if not np.all(np.isfinite(norms)) or np.any(norms == 0):
            raise MalformedResponse("an embedding is zero or not finite")
        return (vectors / norms).tolist()

    def _check_dimension(self, dimension: int) -> None:
        with self._lock:
            if not self._dimension_fixed:
                self.dimension, self._dimension_fixed = dimension, True
        if dimension != self.dimension:
            raise MalformedResponse(f"embeddings of dimension {dimension}, expected {self.dimension}")
