"""Retrieval quality on R-intro.pdf: recall@5 of vector-only, keyword-only (BM25) and hybrid (RRF)
search over questions written by reading the manual (bench/retrieval_questions.json).

A question is a hit when one of the top 5 passages overlaps the pages that answer it. The
fusion settings are swept too, so a chosen default can be checked against its neighbours;
the sweep runs on the same questions, so treat small differences between settings as noise.

The extractive answerer is scored on the hybrid passages: how often it answers on-topic
questions (and cites an answering page) and how often it wrongly answers off-topic ones."""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import R_MANUALS, save  # noqa: E402

from profai.domain import Passage
from profai.ingest.pdf import read_pdf  # noqa: E402
from profai.pipelines.heavy import passages  # noqa: E402
from profai.providers.embedder import OnnxMiniLM  # noqa: E402
from profai.providers.generator.answer import answer_question  # noqa: E402
from profai.retrieval.hybrid import CANDIDATES, KEYWORD_WEIGHT, RRF_K, HybridRetriever  # noqa: E402
from profai.stores.vectors import ChromaVectorStore  # noqa: E402

QUESTIONS = Path(__file__).with_name("retrieval_questions.json")
TOP_K = 5
COLLECTION = "bench-r-intro"


def is_hit(passages: list[Passage], pages: list[int]) -> bool:
    return any(p.page_start <= page <= p.page_end for p in passages for page in pages)


def first_hit_rank(passages: list[Passage], pages: list[int]) -> int | None:
    return next((i for i, p in enumerate(passages, start=1) if is_hit([p], pages)), None)


def evaluate(retriever: HybridRetriever, questions: list[dict], mode: str, top_k: int = TOP_K) -> dict:
    hits, reciprocal, missed = 0, 0.0, []
    for q in questions:
        passages = retriever.search(COLLECTION, q["question"], top_k=top_k, mode=mode)  # type: ignore[arg-type]
        rank = first_hit_rank(passages, q["pages"])
        hits += rank is not None
        reciprocal += 1 / rank if rank else 0.0
        if rank is None:
            missed.append(q["id"])
    n = len(questions)
    return {"recall_at_5": round(hits / n, 3), "mrr_at_5": round(reciprocal / n, 3), "missed": missed}


def evaluate_answers(retriever: HybridRetriever, spec: dict, embed=None) -> dict:
    grounded = cited = first = 0
    for q in spec["questions"]:
        answer = answer_question(q["question"], retriever.search(COLLECTION, q["question"]), embed=embed)
        on_page = [any(c.page_start <= p <= c.page_end for p in q["pages"]) for c in answer.citations]
        grounded += answer.grounded
        cited += any(on_page)
        first += bool(on_page) and on_page[0]
    off = [q for q in spec["off_topic"]
           if answer_question(q, retriever.search(COLLECTION, q), embed=embed).grounded]
    n = len(spec["questions"])
    return {"on_topic_answered": round(grounded / n, 3), "cites_an_answering_page": round(cited / n, 3),
            "first_citation_on_an_answering_page": round(first / n, 3),
            "off_topic_answered": f"{len(off)}/{len(spec['off_topic'])}", "off_topic_wrongly_answered": off}


def main(pdf: Path = R_MANUALS / "R-intro.pdf") -> None:
    spec = json.loads(QUESTIONS.read_text())
    questions = spec["questions"]
    doc = read_pdf(pdf, pdf.name)
    chunks = passages(doc)  # cut as courses are
    embedder = OnnxMiniLM(threads=2)
    with tempfile.TemporaryDirectory() as tmp:
        store = ChromaVectorStore.embedded(Path(tmp) / "chroma")
        started = time.monotonic()
        vectors = embedder.embed([c.text for c in chunks])
        embed_seconds = time.monotonic() - started
        store.upsert(COLLECTION, [c.id for c in chunks], vectors, [c.text for c in chunks],
                     [c.metadata() for c in chunks])
        # One embedding per question, shared by every mode and setting below.
        cache: dict[str, list[float]] = {}

        def embed_query(text: str) -> list[float]:
            if text not in cache:
                cache[text] = embedder.embed([text])[0]
            return cache[text]

        retriever = HybridRetriever(store, embed_query)
        started = time.monotonic()
        modes = {mode: evaluate(retriever, questions, mode) for mode in ("vector", "keyword", "hybrid")}
        search_ms = (time.monotonic() - started) / (3 * len(questions)) * 1000

        sweep = []
        for candidates in (10, 20, CANDIDATES, 50):
            for k in (30, RRF_K):
                for weight in (0.25, 0.5, KEYWORD_WEIGHT):
                    tuned = HybridRetriever(store, embed_query, candidates=candidates, rrf_k=k, keyword_weight=weight)
                    result = evaluate(tuned, questions, "hybrid")
                    sweep.append({"candidates": candidates, "rrf_k": k, "keyword_weight": weight,
                                  "recall_at_5": result["recall_at_5"], "mrr_at_5": result["mrr_at_5"]})

        answers = {"lexical": evaluate_answers(retriever, spec),
                   "with_sentence_embeddings": evaluate_answers(retriever, spec, embed=embedder.embed)}

    hybrid, vector = modes["hybrid"]["recall_at_5"], modes["vector"]["recall_at_5"]
    save("retrieval", {
        "document": pdf.name, "pages": len(doc.pages), "passages": len(chunks), "questions": len(questions),
        "top_k": TOP_K, "settings": {"candidates": CANDIDATES, "rrf_k": RRF_K, "keyword_weight": KEYWORD_WEIGHT},
        "embed_passages_per_second": round(len(chunks) / embed_seconds, 1),
        "mean_search_ms": round(search_ms, 1),
        "modes": modes, "sweep": sweep, "answers": answers,
        "goal": "hybrid recall@5 above vector-only", "goal_met": hybrid > vector,
    })


if __name__ == "__main__":
    main(*(Path(a) for a in sys.argv[1:]))
