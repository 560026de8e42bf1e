"""Hybrid retrieval on a real embedded Chroma store with the real MiniLM embedder over R-intro.pdf."""

import pytest

from profai.domain import PdfDocument
from profai.retrieval.hybrid import KEYWORD_WEIGHT, RRF_K, HybridRetriever, rrf
from support import R_INTRO_COURSE


class CountingStore:
    """The real store, counting how often the retriever loads a whole collection."""

    def __init__(self, store):
        self.store, self.loads = store, 0

    def all(self, collection):
        self.loads += 1
        return self.store.all(collection)

    def __getattr__(self, name):
        return getattr(self.store, name)


@pytest.fixture
def retriever(r_intro_store, minilm) -> HybridRetriever:
    return HybridRetriever(r_intro_store, lambda text: minilm.embed([text])[0])


def page_text(r_intro: PdfDocument, number: int) -> str:
    return next(p.text for p in r_intro.pages if p.number == number)


def test_rrf_sums_reciprocal_ranks():
    fused = dict(rrf([["a", "b", "c"], ["c", "a"]], k=60))
    assert fused["a"] == pytest.approx(1 / 61 + 1 / 62)
    assert fused["c"] == pytest.approx(1 / 63 + 1 / 61)
    assert fused["b"] == pytest.approx(1 / 62)
    assert [i for i, _ in rrf([["a", "b", "c"], ["c", "a"]])] == ["a", "c", "b"]
    weighted = dict(rrf([["a"], ["b"]], k=60, weights=[1.0, 0.5]))
    assert weighted["a"] == pytest.approx(2 * weighted["b"])


def test_vector_mode_returns_passages_with_provenance(retriever, r_intro):
    passages = retriever.search(R_INTRO_COURSE, "How do I find the eigenvalues of a symmetric matrix?", top_k=3, mode="vector")
    assert len(passages) == 3
    assert [p.score for p in passages] == sorted((p.score for p in passages), reverse=True)
    top = passages[0]
    assert top.source_file == "R-intro.pdf" and top.page_start <= 31 <= top.page_end
    assert top.vector_score == top.score and top.keyword_score is None
    # The passage text is really on its pages.
    first_sentence = top.text.split(". ")[0][:60]
    pages = " ".join(page_text(r_intro, n) for n in range(top.page_start, top.page_end + 1))
    assert " ".join(first_sentence.split()) in " ".join(pages.split())


def test_keyword_mode_ranks_by_bm25(retriever):
    passages = retriever.search(R_INTRO_COURSE, "tapply incomes", top_k=5, mode="keyword")
    assert passages and all(p.keyword_score and p.vector_score is None for p in passages)
    assert "tapply" in passages[0].text
    assert [p.score for p in passages] == sorted((p.score for p in passages), reverse=True)
    assert retriever.search(R_INTRO_COURSE, "xylophone", mode="keyword") == []


def test_hybrid_is_the_rrf_of_both_rankings(retriever):
    query = "How can I glue strings and numbers together into labels?"
    depth = retriever.candidates
    vector = [p.id for p in retriever.search(R_INTRO_COURSE, query, top_k=depth, mode="vector")]
    keyword = [p.id for p in retriever.search(R_INTRO_COURSE, query, top_k=depth, mode="keyword")]
    expected = rrf([vector, keyword], k=RRF_K, weights=[1.0, KEYWORD_WEIGHT])[:5]
    hybrid = retriever.search(R_INTRO_COURSE, query, top_k=5)
    assert [p.id for p in hybrid] == [i for i, _ in expected]
    assert [p.score for p in hybrid] == pytest.approx([s for _, s in expected])
    # A passage both rankings found carries both scores.
    both = [p for p in hybrid if p.id in vector and p.id in keyword]
    assert both and all(p.vector_score is not None and p.keyword_score is not None for p in both)


@pytest.mark.parametrize(
    ("question", "pages"),
    [
        ("What happens to missing values when I do arithmetic on them?", {17}),
        ("How do I make a frequency table from two factors?", {33, 34}),
        ("How can I combine matrices column by column?", {32, 33}),
    ],
)
def test_hybrid_finds_the_answering_pages(retriever, question, pages):
    passages = retriever.search(R_INTRO_COURSE, question, top_k=5)
    assert len(passages) == 5 and len({p.id for p in passages}) == 5
    assert any(p.page_start <= page <= p.page_end for p in passages for page in pages)


def test_the_index_is_cached_and_rebuilt_when_the_collection_changes(r_intro_store, minilm):
    counting = CountingStore(r_intro_store)
    retriever = HybridRetriever(counting, lambda text: minilm.embed([text])[0])
    retriever.search(R_INTRO_COURSE, "vectors", mode="keyword")
    retriever.search(R_INTRO_COURSE, "matrices", mode="keyword")
    assert counting.loads == 1

    # A new passage in another collection: found by keyword once added, with one more load.
    r_intro_store.upsert("course-extra", ["x1"], minilm.embed(["Quokkas live on Rottnest Island."]),
                 ["Quokkas live on Rottnest Island."], [{"source_file": "zoo.pdf", "page_start": 1, "page_end": 1}])
    assert [p.id for p in retriever.search("course-extra", "quokkas", mode="keyword")] == ["x1"]
    r_intro_store.upsert("course-extra", ["x2"], minilm.embed(["Wombats dig burrows."]),
                 ["Wombats dig burrows."], [{"source_file": "zoo.pdf", "page_start": 2, "page_end": 2}])
    hits = retriever.search("course-extra", "wombats burrows", mode="keyword")
    assert [p.id for p in hits] == ["x2"] and hits[0].page_start == 2
    assert counting.loads == 3
    r_intro_store.drop("course-extra")


def test_the_cache_keeps_only_the_last_few_courses(r_intro_store, minilm):
    counting = CountingStore(r_intro_store)
    retriever = HybridRetriever(counting, lambda text: minilm.embed([text])[0], cache_size=1)
    r_intro_store.upsert("course-b", ["b1"], minilm.embed(["Lists hold components."]), ["Lists hold components."],
                 [{"source_file": "b.pdf", "page_start": 1, "page_end": 1}])
    for collection in (R_INTRO_COURSE, "course-b", R_INTRO_COURSE):
        retriever.search(collection, "lists components", mode="keyword")
    assert counting.loads == 3  # course-b pushed the first course out
    r_intro_store.drop("course-b")


def test_missing_collection_empty_query_and_bad_mode(retriever):
    for mode in ("hybrid", "vector", "keyword"):
        assert retriever.search("course-that-does-not-exist", "vectors", mode=mode) == []
    assert retriever.search(R_INTRO_COURSE, "   ") == []
    with pytest.raises(ValueError):
        retriever.search(R_INTRO_COURSE, "vectors", mode="fuzzy")
