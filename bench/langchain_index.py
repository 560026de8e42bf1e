"""The baseline a user gets from "twenty lines of LangChain": PyPDFLoader, RecursiveCharacterTextSplitter
(1000 characters, overlap 100), HuggingFaceEmbeddings with all-MiniLM-L6-v2 on torch CPU, and
Chroma.from_documents into a temporary directory. Measured: total seconds from starting to load the
PDF to the index being ready (Python, torch and LangChain import time is excluded), seconds per step
(the embed step timed inside Chroma.from_documents), chunks, tokens the model sees, peak RSS.
Goal: the figure ProfAI's own PDF ingest (bench/ingest_pdf.py) should beat on the same machine.

Runs in the comparison venv (made by bench/compare_env.py):
  bench/work/compare-venv/bin/python bench/langchain_index.py [pdf] [--no-save] [--repeat N]
--no-save prints the figures as one JSON line instead of writing bench/results/langchain_index.json
(what compare_env.run_langchain() reads); --repeat N indexes N times and keeps the median run."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import R_MANUALS, PeakRss, save  # noqa: E402
from compare_env import OFFLINE, model_dir  # noqa: E402


def build_index(pdf: Path, store: Path) -> dict:
    """The user's code, with a stopwatch around each step; returns the figures."""
    from langchain_chroma import Chroma
    from langchain_community.document_loaders import PyPDFLoader
    from langchain_huggingface import HuggingFaceEmbeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    embed_seconds = [0.0]

    class TimedEmbeddings(HuggingFaceEmbeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            started = time.monotonic()
            try:
                return super().embed_documents(texts)
            finally:
                embed_seconds[0] += time.monotonic() - started

    t0 = time.monotonic()
    docs = PyPDFLoader(str(pdf)).load()
    t1 = time.monotonic()
    chunks = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=100).split_documents(docs)
    t2 = time.monotonic()
    embeddings = TimedEmbeddings(model_name=str(model_dir()), model_kwargs={"device": "cpu"})
    t3 = time.monotonic()
    db = Chroma.from_documents(chunks, embeddings, persist_directory=str(store))
    t4 = time.monotonic()
    hits = db.similarity_search("How do I register native routines?", k=3)
    assert len(hits) == 3
    tokens, truncated = count_tokens([c.page_content for c in chunks])
    return {
        "document": pdf.name, "pages": len(docs), "chunks": len(chunks), "tokens": tokens,
        "chunks_truncated_at_256_tokens": truncated,
        "total_seconds": round(t4 - t0, 2),
        "seconds_per_step": {"load_pdf": round(t1 - t0, 2), "split": round(t2 - t1, 2),
                             "load_model": round(t3 - t2, 2), "embed": round(embed_seconds[0], 2),
                             "store": round(t4 - t3 - embed_seconds[0], 2)},
        "chunks_per_second_embed": round(len(chunks) / embed_seconds[0], 1),
        "tokens_per_second_embed": round(tokens / embed_seconds[0]),
    }


def count_tokens(texts: list[str], limit: int = 256) -> tuple[int, int]:
    """Tokens the model sees (special tokens included, cut at its 256-token window) and how many
    texts were cut."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    lengths = [len(e.ids) for e in tokenizer.encode_batch(texts)]
    return sum(min(n, limit) for n in lengths), sum(n > limit for n in lengths)


def versions() -> dict[str, str]:
    from importlib.metadata import version

    names = ("torch", "sentence-transformers", "transformers", "langchain-core", "langchain-community",
             "langchain-huggingface", "langchain-text-splitters", "langchain-chroma", "chromadb", "pypdf")
    return {n: version(n) for n in names}


def main(pdf: Path = R_MANUALS / "R-exts.pdf", write: bool = True, repeat: int = 1) -> dict:
    os.environ.update(OFFLINE)
    # Imported before the clock starts, as at the top of a user's script.
    import langchain_chroma  # noqa: F401
    import langchain_huggingface  # noqa: F401
    import sentence_transformers  # noqa: F401
    import torch

    runs = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp, PeakRss() as rss:
            runs.append(build_index(pdf, Path(tmp)) | {"peak_rss_mb": round(rss.peak_mb)})
    figures = sorted(runs, key=lambda r: r["total_seconds"])[(len(runs) - 1) // 2]  # the median run
    figures |= {"runs_total_seconds": [r["total_seconds"] for r in runs],
                "runs_embed_seconds": [r["seconds_per_step"]["embed"] for r in runs], "torch_threads": torch.get_num_threads(),
                "excluded": "Python, torch and LangChain import time", "versions": versions()}
    if write:
        save("langchain_index", figures)
    else:
        print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("pdf", type=Path, nargs="?", default=R_MANUALS / "R-exts.pdf")
    p.add_argument("--no-save", action="store_true")
    p.add_argument("--repeat", type=int, default=1)
    a = p.parse_args()
    main(a.pdf, write=not a.no_save, repeat=a.repeat)
