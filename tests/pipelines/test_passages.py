"""Passages fit the embedding model's window: measured in its own tokens, none is longer than the
window less [CLS] and [SEP], so no passage's tail goes unembedded (at 160 words, 16-31% did)."""

from __future__ import annotations

from profai.domain import Page, PdfDocument
from profai.ingest.pdf import read_pdf
from profai.pipelines.heavy import PASSAGE_TOKENS, passages
from profai.providers.embedder import WINDOW, token_counts
from support import R_MANUALS


def test_every_passage_of_a_code_heavy_manual_fits_the_window():
    doc = read_pdf(R_MANUALS / "R-exts.pdf", "R-exts.pdf")
    cut = passages(doc)
    sizes = token_counts([p.text for p in cut])
    assert PASSAGE_TOKENS == WINDOW - 2
    assert max(sizes) <= PASSAGE_TOKENS
    assert sum(sizes) / len(sizes) > PASSAGE_TOKENS / 2, "passages should fill the window, not be slivers"
    assert sorted({p.page_start for p in cut})[-1] > 200  # the whole manual, to its last pages


def test_a_sentence_longer_than_the_window_is_cut_at_words_into_pieces_that_fit():
    identifiers = " ".join(f"pkg_config_value_{i}" for i in range(400)) + "."
    doc = PdfDocument("notes.pdf", "cd" * 32, [Page(1, identifiers + " A short sentence follows.")], [])
    cut = passages(doc)
    assert len(cut) > 2
    assert max(token_counts([p.text for p in cut])) <= PASSAGE_TOKENS
    words = " ".join(p.text for p in cut).split()
    assert "pkg_config_value_0" in words and "pkg_config_value_399." in words
