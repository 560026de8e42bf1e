"""Chunking: sentence-aligned, size-limited, with page provenance and stable ids."""

from dataclasses import replace

import pytest

from factories import make_pdf
from profai.domain import Page, PdfDocument
from profai.ingest.chunking import chunk_document
from profai.ingest.pdf import read_pdf
from profai.text import split_sentences


@pytest.fixture
def doc(tmp_path):
    return read_pdf(make_pdf(tmp_path / "bio.pdf", repeat=2), "bio.pdf")


def _doc(*pages: str) -> PdfDocument:
    return PdfDocument("notes.pdf", "ab" * 32, [Page(i, t) for i, t in enumerate(pages, start=1)], [])


def test_chunks_respect_word_limit_and_keep_whole_sentences(doc):
    chunks = chunk_document(doc, max_size=60, overlap=15)
    assert len(chunks) > 6
    all_sentences = {s for page in doc.pages for s in split_sentences(page.text)}
    for chunk in chunks:
        assert 0 < len(chunk.text.split()) <= 60
        assert chunk.text.strip() == chunk.text
        for sentence in split_sentences(chunk.text):
            assert sentence in all_sentences  # nothing was cut mid-sentence
    assert [c.position for c in chunks] == list(range(len(chunks)))
    assert {c.source_file for c in chunks} == {"bio.pdf"}


def test_every_sentence_is_covered_and_consecutive_chunks_overlap(doc):
    chunks = chunk_document(doc, max_size=60, overlap=20)
    joined = " ".join(c.text for c in chunks)
    for page in doc.pages:
        for sentence in split_sentences(page.text):
            assert sentence in joined
    overlaps = 0
    for a, b in zip(chunks, chunks[1:]):
        first = split_sentences(b.text)[0]
        overlaps += first in a.text
    assert overlaps >= len(chunks) // 2


def test_overlong_sentence_is_split_at_word_boundaries():
    long_sentence = " ".join(f"word{i}" for i in range(250)) + "."
    chunks = chunk_document(_doc(long_sentence + " Short tail sentence here."), max_size=100, overlap=10)
    assert all(len(c.text.split()) <= 100 for c in chunks)
    assert " ".join(c.text for c in chunks).count("word249.") >= 1
    assert chunks[0].text.split()[0] == "word0"


def test_page_provenance():
    first = " ".join(["Alpha beta gamma delta."] * 10)  # 40 words on page 1
    second = " ".join(["Epsilon zeta eta theta."] * 10)  # 40 words on page 2
    chunks = chunk_document(_doc(first, "", second), max_size=60, overlap=0)
    assert [(c.page_start, c.page_end) for c in chunks] == [(1, 3), (3, 3)]
    only = chunk_document(_doc(first), max_size=60)
    assert [(c.page_start, c.page_end) for c in only] == [(1, 1)]


def test_empty_pages_make_no_chunks():
    assert chunk_document(_doc("", "   ", "")) == []
    chunks = chunk_document(_doc("", "One short page of text.", ""))
    assert len(chunks) == 1 and chunks[0].page_start == chunks[0].page_end == 2


def test_ids_are_deterministic_and_follow_content(doc):
    ids = [c.id for c in chunk_document(doc)]
    assert ids == [c.id for c in chunk_document(doc)]
    assert len(set(ids)) == len(ids) and all(len(i) == 32 for i in ids)
    edited_pages = [replace(doc.pages[0], text=doc.pages[0].text.replace("green plants", "all plants")), *doc.pages[1:]]
    edited = chunk_document(replace(doc, pages=edited_pages))
    assert edited[0].id != ids[0]
    other_file = chunk_document(replace(doc, sha256="0" * 64))
    assert other_file[0].text == chunk_document(doc)[0].text and other_file[0].id != ids[0]


def test_paragraph_breaks_are_kept_inside_chunks():
    chunks = chunk_document(_doc("First paragraph here.\n\nSecond paragraph here."))
    assert chunks[0].text == "First paragraph here.\n\nSecond paragraph here."
