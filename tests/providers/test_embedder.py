"""Tests for the offline ONNX MiniLM embedder, run on the real model."""

import json
import os
import pickle
import threading
from pathlib import Path

import numpy as np
import pytest

from profai.providers.embedder import OnnxMiniLM, batched
from profai.providers.minilm_runtimes import choose, cpu_flags


@pytest.fixture(scope="module")
def embedder() -> OnnxMiniLM:
    return OnnxMiniLM(threads=1, batch_size=4)


def cos(a, b) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_batched_splits_and_keeps_order():
    assert list(batched(range(7), 3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(batched([], 3)) == []


def test_dimension_and_unit_length(embedder):
    vectors = embedder.embed(["hello world", "a second sentence", ""])
    assert embedder.dimension == 384 and embedder.name == "minilm-onnx"
    assert len(vectors) == 3
    for v in vectors:
        assert len(v) == 384
        assert abs(np.linalg.norm(v) - 1.0) < 1e-4


def test_similar_sentences_score_higher(embedder):
    cat, kitten, stocks = embedder.embed(
        ["The cat sat on the mat", "A kitten rests on a rug", "Stock markets fell sharply"]
    )
    assert cos(cat, kitten) > cos(cat, stocks) + 0.2
    assert cos(cat, kitten) > cos(kitten, stocks) + 0.2


def test_order_preserved_across_lengths(embedder):
    texts = [
        "word " * 120,
        "short",
        "",
        "A medium sized sentence about photosynthesis in plants.",
        "numbers 1 2 3 " * 30,
        "x",
        "The mitochondria is the powerhouse of the cell, as every student learns.",
    ]
    together = embedder.embed(texts)
    for text, vector in zip(texts, together, strict=True):
        (alone,) = embedder.embed([text])
        assert cos(alone, vector) > 0.999


def test_long_text_is_truncated_not_fatal(embedder):
    long_text = " ".join(f"token{i}" for i in range(2000))
    (v,) = embedder.embed([long_text])
    assert len(v) == 384 and abs(np.linalg.norm(v) - 1.0) < 1e-4


def test_empty_input_returns_empty_list(embedder):
    assert embedder.embed([]) == []


def test_pickles_before_and_after_load(embedder):
    embedder.embed(["warm up"])
    copy = pickle.loads(pickle.dumps(embedder))
    assert copy.batch_size == 4 and copy._model is None
    assert cos(copy.embed(["same text"])[0], embedder.embed(["same text"])[0]) > 0.9999


REFERENCE = Path(__file__).parents[1] / "data" / "minilm_reference.json"


# OpenVINO runs the fp32 weights (bf16 rounds them); ONNX Runtime the int8 file, the furthest off.
@pytest.mark.parametrize("runtime,precision,least", [("onnxruntime", "f32", 0.99), ("openvino", "f32", 0.9999),
                                                     ("openvino", "bf16", 0.999)])
def test_every_runtime_matches_the_fp32_reference_on_real_passages(runtime, precision, least):
    """Passages of two R manuals (whole-window ones among them) and queries, against the vectors
    sentence-transformers computes in fp32 on torch (tests/data/make_minilm_reference.py)."""
    if precision == "bf16" and not cpu_flags() & {"avx512_bf16", "amx_bf16"}:
        pytest.skip("this CPU does not compute in bf16")
    data = json.loads(REFERENCE.read_text())
    embedder = OnnxMiniLM(threads=1, runtime=runtime, precision=precision)
    assert embedder.runs_on == f"{runtime}/{precision}"
    vectors = embedder.embed(data["texts"])
    assert min(cos(a, b) for a, b in zip(vectors, data["vectors"], strict=True)) >= least


def test_auto_picks_openvino_and_the_cpus_precision():
    runtime, precision = choose("auto", "auto")
    assert runtime == "openvino"  # installed with ProfAI
    assert precision == ("bf16" if cpu_flags() & {"avx512_bf16", "amx_bf16"} else "f32")
    assert choose("onnxruntime", "bf16") == ("onnxruntime", "f32")  # it runs the int8 graph as it is
    assert choose("openvino", "f32") == ("openvino", "f32")


def _thread_cpus() -> set[str]:
    """The CPUs each thread of this process may run on, as /proc lists them ("0-1")."""
    seen = set()
    for task in Path("/proc/self/task").iterdir():
        try:
            status = (task / "status").read_text()
        except OSError:  # the thread ended meanwhile
            continue
        seen.add(next(ln for ln in status.splitlines() if ln.startswith("Cpus_allowed_list")).split(":")[1].strip())
    return seen


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="one CPU: nothing to pin to")
def test_openvino_never_pins_its_threads_so_compute_processes_share_the_cores():
    """OpenVINO pins the threads it infers on from the first core by default: each compute process's
    one-thread model then sat on the same core as the others', and two processes embedded at the
    speed of one. Watched while it embeds, no thread of this process is held to fewer CPUs."""
    embedder = OnnxMiniLM(threads=1, runtime="openvino", precision="f32")
    embedder.embed(["warm up"])
    allowed = _thread_cpus()
    assert len(allowed) == 1
    done = threading.Event()

    def embed_until_done() -> None:
        while not done.is_set():
            embedder.embed(["Mitochondria release energy from food."] * 8)

    worker = threading.Thread(target=embed_until_done)
    worker.start()
    seen: set[str] = set()
    try:
        for _ in range(2000):
            seen |= _thread_cpus()
    finally:
        done.set()
        worker.join()
    assert seen == allowed
