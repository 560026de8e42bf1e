"""Extractive answers over R-intro.pdf retrieved from a real Chroma store with the real embedder."""

import os
import pickle
import re
import subprocess
import sys

import pytest

from profai.domain import Answer, PdfDocument
from profai.providers.generator.answer import NOT_FOUND, answer_question, expand_query, is_follow_up
from profai.retrieval.hybrid import HybridRetriever
from support import R_INTRO_COURSE, squash

MARKER = re.compile(r" \[(\d+)\]$")


@pytest.fixture(scope="module")
def retriever(r_intro_store, minilm) -> HybridRetriever:
    return HybridRetriever(r_intro_store, lambda text: minilm.embed([text])[0])


def assert_cited_verbatim(answer: Answer, r_intro: PdfDocument) -> None:
    """Every sentence carries a marker, and every quote is on the pages its citation names."""
    assert answer.grounded and answer.text == " ".join(answer.sentences)
    assert 2 <= len(answer.sentences) <= 4
    numbers = [int(MARKER.search(s).group(1)) for s in answer.sentences]
    assert sorted(set(numbers)) == [c.number for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    assert [n for i, n in enumerate(numbers) if n not in numbers[:i]] == sorted(set(numbers))  # first use order
    pages = {p.number: squash(p.text) for p in r_intro.pages}
    for citation in answer.citations:
        assert citation.source_file == "R-intro.pdf" and citation.quotes
        cited = " ".join(pages[n] for n in range(citation.page_start, citation.page_end + 1))
        for quote in citation.quotes:
            assert squash(quote) in cited
            assert f"{quote} [{citation.number}]" in answer.sentences


@pytest.mark.parametrize(
    ("question", "pages"),
    [
        ("How do I compute the mean income for each state?", {23, 24}),
        ("What is the difference between NA and NaN?", {17}),
        ("How can I stick matrices together side by side?", {32, 33}),
        ("How do I turn a vector into a matrix with a dim attribute?", {26, 21}),
    ],
)
def test_answers_quote_their_cited_pages(retriever, r_intro, question, pages):
    answer = answer_question(question, retriever.search(R_INTRO_COURSE, question))
    assert_cited_verbatim(answer, r_intro)
    assert any(c.page_start <= page <= c.page_end for c in answer.citations for page in pages)


@pytest.mark.parametrize(
    "question",
    ["What is the capital city of France?", "How do I bake a loaf of sourdough bread?",
     "Who won the football World Cup in 2018?", "How do vaccines train the immune system?"],
)
def test_off_topic_questions_are_not_answered(retriever, question):
    for mode in ("hybrid", "keyword"):
        answer = answer_question(question, retriever.search(R_INTRO_COURSE, question, mode=mode))
        assert not answer.grounded
        assert answer.text == NOT_FOUND and answer.sentences == [NOT_FOUND] and answer.citations == []


def test_no_passages_means_not_found():
    assert answer_question("What is a vector?", []).grounded is False
    assert answer_question("", []).text == NOT_FOUND


def test_follow_up_questions_borrow_the_previous_topic(retriever, r_intro):
    history = [("How do I compute the mean income for each state with tapply?", "...")]
    follow_up = "What does it return?"
    assert is_follow_up(follow_up)
    query = expand_query(follow_up, history)
    assert query.startswith(follow_up) and "tapply" in query and "income" in query
    answer = answer_question(follow_up, retriever.search(R_INTRO_COURSE, query), history)
    assert_cited_verbatim(answer, r_intro)
    assert any("tapply" in q for c in answer.citations for q in c.quotes)


def test_expand_query_leaves_standalone_questions_alone():
    history = [("How do I compute the mean income for each state with tapply?", "...")]
    standalone = "How do I create a frequency table from two factors?"
    assert not is_follow_up(standalone)
    assert expand_query(standalone, history) == standalone
    assert expand_query("What about its arguments?", []) == "What about its arguments?"
    assert "tapply" in expand_query("And for matrices?", history)


def test_expand_query_looks_back_two_questions_at_most():
    history = [("Tell me about quokkas", ""), ("What are wombats?", ""), ("Where do they live?", "")]
    query = expand_query("And what do they eat?", history)
    assert "wombats" in query and "quokkas" not in query


def test_an_embedder_ranks_sentences_by_meaning_too(retriever, r_intro, minilm):
    question = "How can I check which values of a vector are missing?"
    passages = retriever.search(R_INTRO_COURSE, question)
    answer = answer_question(question, passages, embed=minilm.embed)
    assert_cited_verbatim(answer, r_intro)
    assert answer != answer_question(question, passages)  # the embedder changed what was chosen


def test_the_same_input_gives_the_same_answer(retriever, tmp_path):
    """Across processes too: nothing may depend on the hash seed (set order) or on caches."""
    question = "How are character strings written and escaped?"
    passages = tmp_path / "passages.pickle"
    passages.write_bytes(pickle.dumps(retriever.search(R_INTRO_COURSE, question)))
    script = ("import pickle, sys; from profai.providers.generator.answer import answer_question; "
              "print(repr(answer_question(sys.argv[1], pickle.loads(open(sys.argv[2], 'rb').read()))))")
    runs = {subprocess.run([sys.executable, "-c", script, question, str(passages)], capture_output=True, text=True,
                           check=True, env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2")}
    assert len(runs) == 1 and "Answer(" in runs.pop()
