"""Writes minilm_reference.json: passages of R-intro and R-exts as ProfAI cuts them, with their
all-MiniLM-L6-v2 vectors from sentence-transformers in fp32 on torch, the model's reference
implementation. Torch is not a ProfAI dependency: run it with the comparison venv of the
benchmarks (bench/compare_env.py makes it), after writing the passages with the main venv:

    .venv/bin/python tests/data/make_minilm_reference.py passages
    bench/work/compare-venv/bin/python tests/data/make_minilm_reference.py vectors \
        "$(.venv/bin/python -c 'import profai.providers.embedder as e; print(e.model_dir())')"
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).parent
OUT = HERE / "minilm_reference.json"
MANUALS = Path("/usr/share/R/doc/manual")


def passages() -> None:
    from profai.ingest.pdf import read_pdf
    from profai.pipelines.heavy import passages as cut
    from profai.providers.embedder import token_counts

    texts: list[str] = []
    for name in ("R-intro.pdf", "R-exts.pdf"):
        chunks = [c.text for c in cut(read_pdf(MANUALS / name, name))]
        # Spread over the manual, and its longest passage (the whole window) too.
        step = max(1, len(chunks) // 11)
        texts += chunks[::step][:11] + [max(chunks, key=lambda t: token_counts([t])[0])]
    texts += ["What is a data frame?", "R"]  # queries are embedded too
    OUT.write_text(json.dumps({"texts": texts}))


def vectors(model_dir: str) -> None:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(model_dir, device="cpu")
    model.max_seq_length = 256
    data = json.loads(OUT.read_text())
    vecs = model.encode(data["texts"], normalize_embeddings=True, convert_to_numpy=True)
    data["vectors"] = [[round(float(x), 6) for x in v] for v in vecs]
    OUT.write_text(json.dumps(data))


if __name__ == "__main__":
    if sys.argv[1] == "passages":
        passages()
    else:
        vectors(sys.argv[2])
