"""Hostile PDFs are refused with a stable code, cheaply where they can be (at upload), and real
manuals stay far inside every limit."""

from __future__ import annotations

from pathlib import Path

import pytest

import hostile
from factories import make_pdf
from profai.errors import InvalidInput, PayloadTooLarge, UnsupportedFile
from profai.ingest.pdf import _strip_edges, inspect_pdf, read_pdf
from profai.ingest.pdf_blocks import DocStyle, page_blocks, paragraphs
from profai.ingest.pdf_limits import PdfLimits, check_inflated
from profai.ingest.pdf_lines import Line

R_MANUALS = Path("/usr/share/R/doc/manual")


def test_the_hostile_files_are_valid_pdfs_apart_from_their_trick(tmp_path):
    doc = read_pdf(hostile.readable(tmp_path / "ok.pdf"), "ok.pdf")
    assert "Calvin cycle" in doc.pages[0].text
    assert inspect_pdf(hostile.many_pages(tmp_path / "few.pdf", 3)) == 3


def test_a_file_with_20000_pages_is_refused_before_any_page_is_read(tmp_path):
    path = hostile.many_pages(tmp_path / "huge.pdf", 20_000)
    assert path.stat().st_size < 4_000_000  # well inside the 50 MB upload limit
    for read in (inspect_pdf, lambda p: read_pdf(p, "huge.pdf")):
        with pytest.raises(PayloadTooLarge) as err:
            read(path)
        assert err.value.code == "too_many_pages" and err.value.status_code == 413
        assert "20,000 pages" in err.value.message and "2,000" in err.value.message


def test_the_page_limit_is_a_setting(tmp_path):
    path = hostile.many_pages(tmp_path / "five.pdf", 5)
    with pytest.raises(PayloadTooLarge):
        inspect_pdf(path, PdfLimits(max_pages=4))
    assert inspect_pdf(path, PdfLimits(max_pages=5)) == 5


def test_a_text_bomb_is_refused_from_its_compressed_size_alone(tmp_path):
    path = hostile.text_bomb(tmp_path / "bomb.pdf", megabytes=300)
    assert path.stat().st_size < 1_200_000  # 300 MB of page content in about 1 MB
    for read in (inspect_pdf, lambda p: read_pdf(p, "bomb.pdf")):
        with pytest.raises(PayloadTooLarge) as err:
            read(path)
        assert err.value.code == "pdf_too_large"
        assert "decompresses to more than 32 MB" in err.value.message


def test_many_streams_count_towards_one_budget(tmp_path):
    path = hostile.text_bomb(tmp_path / "bomb.pdf", megabytes=3)
    check_inflated(path.read_bytes(), PdfLimits())
    with pytest.raises(PayloadTooLarge) as err:
        check_inflated(path.read_bytes(), PdfLimits(max_inflated_bytes=2 * 1024 * 1024))
    assert err.value.code == "pdf_too_large"


def test_text_past_the_character_budget_is_refused_before_it_is_copied(tmp_path):
    path = make_pdf(tmp_path / "bio.pdf", repeat=4)
    assert len(read_pdf(path, "bio.pdf").pages) == 12
    with pytest.raises(PayloadTooLarge) as err:
        read_pdf(path, "bio.pdf", PdfLimits(max_chars=3000))
    assert err.value.code == "pdf_too_large"
    assert "3,000 characters" in err.value.message


def test_a_page_of_too_many_objects_is_refused_before_its_text_is_built(tmp_path):
    path = hostile.crowded_page(tmp_path / "crowded.pdf", 2000)
    assert read_pdf(path, "crowded.pdf").pages  # within the default limit
    with pytest.raises(PayloadTooLarge) as err:
        read_pdf(path, "crowded.pdf", PdfLimits(max_page_objects=1000))
    assert err.value.code == "pdf_too_large" and "page 1" in err.value.message


def test_a_page_slower_than_the_limit_stops_the_reading(tmp_path):
    # Any page takes longer than no time at all: the check between pages fires on page 1.
    with pytest.raises(InvalidInput) as err:
        read_pdf(make_pdf(tmp_path / "bio.pdf"), "bio.pdf", PdfLimits(page_seconds=0))
    assert err.value.code == "pdf_too_slow"
    assert err.value.message.startswith("Page 1 of the PDF took more than 0 s")


@pytest.mark.parametrize("how", ["missing", "not_a_page", "count"])
def test_a_damaged_page_tree_is_corrupt_at_upload_and_when_read(tmp_path, how):
    path = hostile.broken_tree(tmp_path / f"{how}.pdf", how)
    for read in (inspect_pdf, lambda p: read_pdf(p, "x.pdf")):
        with pytest.raises(InvalidInput) as err:
            read(path)
        assert err.value.code == "corrupt_pdf"
        assert "Page 2 of the PDF cannot be read" in err.value.message


def test_a_catalog_without_pages_is_corrupt_even_after_an_encrypted_file(tmp_path):
    # PDFium's last error is process-wide and this failure does not set it: right after an
    # encrypted file, it still said "password".
    with pytest.raises(UnsupportedFile):
        inspect_pdf(make_pdf(tmp_path / "secret.pdf", encrypt="pw"))
    path = hostile.broken_tree(tmp_path / "none.pdf", "no_pages")
    for read in (inspect_pdf, lambda p: read_pdf(p, "none.pdf")):
        with pytest.raises(InvalidInput) as err:
            read(path)
        assert err.value.code == "corrupt_pdf"


def test_reading_reports_progress_once_opened_after_every_page_and_while_cleaning(tmp_path):
    seen: list[int] = []
    read_pdf(make_pdf(tmp_path / "bio.pdf"), "bio.pdf", on_page=seen.append)
    assert seen[:4] == [0, 1, 2, 3]
    assert len(seen) > 4 and set(seen[4:]) == {3}  # cleaning the text says "still at page 3"


def test_cleaning_a_page_of_300000_lines_stays_linear():
    # Joining a paragraph line by line, or popping page numbers off the front of a page, was
    # quadratic: these took minutes. (No time is asserted; a regression shows as a hang.)
    lines = ["abcdefghij"] * 300_000
    assert paragraphs(lines) == [" ".join(lines)]
    assert [b.text for b in page_blocks([Line(t) for t in lines], DocStyle(0.0, ()))] == [" ".join(lines)]
    assert [line.text for line in _strip_edges([Line("12")] * 300_000 + [Line("text")], 1, set())] == ["text"]


def test_real_manuals_are_far_inside_every_limit():
    if not (R_MANUALS / "fullrefman.pdf").exists():
        pytest.skip("R's manuals are not installed")
    # The 2,400-page reference manual decompresses to ~24 MB (0.3 MB at most in one stream).
    check_inflated((R_MANUALS / "fullrefman.pdf").read_bytes(), PdfLimits())
    assert inspect_pdf(R_MANUALS / "R-exts.pdf") == 236
    doc = read_pdf(R_MANUALS / "R-exts.pdf", "R-exts.pdf", PdfLimits(max_chars=1_000_000, page_seconds=5))
    assert len(doc.pages) == 236
