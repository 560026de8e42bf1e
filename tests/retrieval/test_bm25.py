"""BM25 keyword index: tokens, stemming, scores checked by hand, and search over a real manual."""

import math

import pytest

from profai.ingest.chunking import chunk_document
from profai.ingest.pdf import read_pdf
from profai.retrieval.bm25 import BM25Index, stem, tokenize
from support import R_MANUALS

R_INTRO = R_MANUALS / "R-intro.pdf"


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (["function", "functions"], "function"),
        (["name", "names", "named", "naming"], "nam"),
        (["fit", "fitted", "fitting", "fits"], "fit"),
        (["plot", "plots", "plotted", "plotting"], "plot"),
        (["class", "classes"], "class"),
        (["match", "matches", "matched"], "match"),
        (["family", "families"], "family"),
        (["vector", "vectors"], "vector"),
        (["value", "values"], "valu"),
    ],
)
def test_word_forms_share_a_stem(words, expected):
    assert {stem(w) for w in words} == {expected}


def test_stemmer_leaves_short_and_unsuffixed_words_alone():
    for word in ("string", "analysis", "status", "speed", "is", "lm", "matrix", "miss"):
        assert stem(word) == word


def test_tokenize_drops_stop_words_and_keeps_short_names_and_numbers():
    assert tokenize("The Functions of R's lm() and the light-dependent reactions in 1991") == [
        "function", "lm", "light", "dependent", "reaction", "1991",
    ]
    assert tokenize("it is what it is") == []
    assert "na" in tokenize("is.na(x) tests for NA")


def test_scores_match_the_okapi_formula():
    docs = [("a", "apple banana apple"), ("b", "banana cherry"), ("c", "cherry cherry cherry date")]
    index = BM25Index(docs, k1=1.2, b=0.75)
    n, avg = 3, (3 + 2 + 4) / 3
    idf_apple = math.log(1 + (n - 1 + 0.5) / (1 + 0.5))
    expected = idf_apple * 2 * 2.2 / (2 + 1.2 * (1 - 0.75 + 0.75 * 3 / avg))
    scores = index.scores("apple")
    assert scores[0] == pytest.approx(expected)
    assert scores[1] == scores[2] == 0
    assert index.idf(stem("apple")) > index.idf("banana") > 0
    assert index.df("banana") == 2 and index.df("missing") == 0


def test_rare_terms_weigh_more_and_short_documents_win_ties():
    index = BM25Index([
        ("long", "vector vector arithmetic " + "filler words here " * 10),
        ("short", "vector arithmetic"),
        ("other", "vector recycling"),
    ])
    # "arithmetic" is rarer than "vector", so both arithmetic documents beat "other".
    hits = index.search("vector arithmetic")
    assert [doc_id for doc_id, _ in hits][:2] == ["short", "long"]
    assert hits[-1][0] == "other"
    assert all(a[1] >= b[1] for a, b in zip(hits, hits[1:]))


def test_plural_query_finds_singular_text_and_top_k_limits():
    index = BM25Index([("1", "Writing a function"), ("2", "A list of matrices"), ("3", "Another function here")])
    # Both match; "Another function here" has fewer indexed words, so it is the better match.
    assert [i for i, _ in index.search("functions")] == ["3", "1"]
    assert len(index.search("functions", top_k=1)) == 1
    assert index.search("zebra") == [] and index.search("") == [] and index.search("functions", top_k=0) == []


def test_empty_index_and_duplicate_ids():
    assert BM25Index([]).search("anything") == []
    with pytest.raises(ValueError):
        BM25Index([("x", "one"), ("x", "two")])


def test_a_repeated_query_term_counts_more():
    index = BM25Index([("a", "alpha beta"), ("b", "alpha gamma")])
    once, twice = index.scores("beta gamma"), index.scores("beta beta gamma")
    assert once[0] == pytest.approx(once[1])
    assert twice[0] > twice[1]


def test_finds_the_passage_on_a_named_function_in_r_intro():
    chunks = chunk_document(read_pdf(R_INTRO, "R-intro.pdf"))
    index = BM25Index((c.id, c.text) for c in chunks)
    by_id = {c.id: c for c in chunks}
    top = by_id[index.search("mean income of each state with tapply", top_k=1)[0][0]]
    assert "tapply" in top.text and top.page_start <= 24 and top.page_end >= 23
    top = by_id[index.search("eigenvalues of a symmetric matrix", top_k=1)[0][0]]
    assert "eigen" in top.text and top.page_start <= 31 <= top.page_end
