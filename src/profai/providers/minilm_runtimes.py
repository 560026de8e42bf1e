"""Where MiniLM runs: OpenVINO or ONNX Runtime, chosen at start-up by what is installed and what
the CPU offers, or forced by EMBEDDING_RUNTIME / EMBEDDING_PRECISION.

OpenVINO runs the fp32 model built from its published weights (providers/minilm_graph.py), in
bf16 where the CPU computes in it (AVX512_BF16 or AMX): the fastest candidate of
bench/embedders.py, cosine >= 0.9998 to the reference on every passage. ONNX Runtime, the
fallback, runs the int8 ONNX file: slower here, and 2-3 passages in 883 fall to cosine ~0.98."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

Runtime = Literal["auto", "openvino", "onnxruntime"]
Precision = Literal["auto", "f32", "bf16"]

Feeds = dict[str, NDArray[np.int64]]
Run = Callable[[Feeds], NDArray[np.float32]]  # input_ids, attention_mask, token_type_ids -> last_hidden_state
OUTPUT = "last_hidden_state"


@functools.cache
def cpu_flags() -> frozenset[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    line = next((ln for ln in text.splitlines() if ln.startswith("flags")), "")
    return frozenset(line.partition(":")[2].split())


def choose(runtime: Runtime, precision: Precision) -> tuple[str, str]:
    """The runtime and precision to use: OpenVINO when installed (unless forced otherwise), bf16
    where the CPU computes in it. ONNX Runtime runs the int8 graph as it is (f32 activations)."""
    if runtime == "auto":
        runtime = "openvino" if _has_openvino() else "onnxruntime"
    if runtime == "onnxruntime":
        return runtime, "f32"
    if precision == "auto":
        precision = "bf16" if cpu_flags() & {"avx512_bf16", "amx_bf16"} else "f32"
    return runtime, precision


def _has_openvino() -> bool:
    try:
        import openvino  # noqa: F401
    except ImportError:
        return False
    return True


def open_model(runtime: str, precision: str, threads: int, *, onnx: Path, weights: Path) -> Run:
    """The model, ready to run: the fp32 weights (safetensors) on OpenVINO, the int8 `onnx` file
    on ONNX Runtime."""
    if runtime == "openvino":
        return _openvino(weights, precision, threads)
    return _onnxruntime(onnx, threads)


def _onnxruntime(path: Path, threads: int) -> Run:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # The arena keeps every batch shape's buffers and grows to GBs.
    options.enable_cpu_mem_arena = False
    session = ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])

    def run(feeds: Feeds) -> NDArray[np.float32]:
        (hidden,) = session.run([OUTPUT], dict(feeds))
        return np.asarray(hidden, dtype=np.float32)

    return run


def _openvino(weights: Path, precision: str, threads: int) -> Run:
    import openvino as ov

    from profai.providers.minilm_graph import build_model, read_safetensors

    compiled = ov.Core().compile_model(build_model(read_safetensors(weights)), "CPU", {
        "INFERENCE_NUM_THREADS": threads, "NUM_STREAMS": 1, "PERFORMANCE_HINT": "LATENCY",
        "INFERENCE_PRECISION_HINT": precision,
        # Not pinned: OpenVINO pins its threads from the first core, so the one-thread model of
        # each compute process sat on the same core as the others' and two processes ran at the
        # speed of one. The kernel spreads unpinned processes over the cores.
        "ENABLE_CPU_PINNING": False,
    })
    output = compiled.output(OUTPUT)
    # An infer request is not thread-safe (ONNX Runtime's session is): one per calling thread.
    local = threading.local()

    def run(feeds: Feeds) -> NDArray[np.float32]:
        request: Any = getattr(local, "request", None)
        if request is None:
            request = local.request = compiled.create_infer_request()
        return np.asarray(request.infer(feeds)[output], dtype=np.float32)

    return run
