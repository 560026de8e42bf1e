"""Scanned and mixed PDFs: pages without a text layer are read by OCR (Tesseract, really run)."""

from __future__ import annotations

import difflib
import math
import os
import unicodedata
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from PIL import Image

import hostile
from factories import BIOLOGY, make_image_pdf, make_pdf, make_scanned_pdf
from profai.errors import InvalidInput, PayloadTooLarge, ServiceUnavailable
from profai.ingest import ocr
from profai.ingest import pdf as pdf_module
from profai.ingest.pdf import read_pdf
from profai.ingest.pdf_limits import PdfLimits
from profai.pipelines.pdf_readers import PdfReaders
from support import make_settings


def _normalise(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).split())


def _accuracy(read: str, expected: str) -> float:
    """Share of characters that match, case and punctuation included."""
    return difflib.SequenceMatcher(None, _normalise(read), _normalise(expected), autojunk=False).ratio()


def _chapter(number: int) -> str:
    title, paragraphs = BIOLOGY[number - 1]
    return " ".join([title, *paragraphs])


def _tesseract_children() -> list[int]:
    """Tesseract processes this one started that are still there (running, or not yet reaped)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)
        except OSError:
            continue
        if "(tesseract" in fields[0] and int(fields[1].split()[1]) == os.getpid():
            found.append(int(stat.parent.name))
    return found


def test_a_fully_scanned_pdf_is_read_by_ocr_and_cleaned_like_text(tmp_path):
    # Six pages, each chapter twice with its heading numbered ("Genetics 2"). The OCRed text goes
    # through the same cleaning as a text layer: wrapped lines are joined back into paragraphs.
    doc = read_pdf(make_scanned_pdf(tmp_path / "scan.pdf", repeat=2), "scan.pdf")
    assert doc.ocr_pages == [1, 2, 3, 4, 5, 6]
    assert [p.number for p in doc.pages] == [1, 2, 3, 4, 5, 6]
    for page in doc.pages:
        title, paragraphs = BIOLOGY[(page.number - 1) % 3]
        heading = f"{title} {(page.number - 1) // 3 + 1}"
        expected = " ".join([heading, *paragraphs])
        assert _accuracy(page.text, expected) >= 0.95, page.text
        heading_block, *blocks = page.text.split("\n\n")
        assert heading_block == heading
        assert len(blocks) >= len(paragraphs)  # Tesseract marks the gaps between paragraphs too
        assert all("\n" not in block and block.endswith(".") for block in blocks)  # whole sentences


def test_a_mixed_pdf_is_ocred_only_on_its_image_pages(tmp_path):
    text_doc = read_pdf(make_pdf(tmp_path / "text.pdf", outline=False), "text.pdf")
    doc = read_pdf(make_scanned_pdf(tmp_path / "mixed.pdf", scanned={2}), "mixed.pdf")
    assert doc.ocr_pages == [2]
    assert doc.pages[0] == text_doc.pages[0] and doc.pages[2] == text_doc.pages[2]
    assert _accuracy(doc.pages[1].text, _chapter(2)) >= 0.95


def test_progress_is_reported_while_a_page_is_ocred_without_holding_the_pdfium_lock(tmp_path, monkeypatch):
    monkeypatch.setattr(ocr, "WAIT_TICK", 0.02)  # OCR of a page takes far longer than this
    seen: list[tuple[int, bool]] = []
    read_pdf(make_scanned_pdf(tmp_path / "scan.pdf"), "scan.pdf",
             on_page=lambda n: seen.append((n, pdf_module.PDFIUM_LOCK.locked())))
    beats = [n for n, _ in seen]
    assert not any(locked for _, locked in seen)
    assert beats == sorted(beats) and beats[-1] == 3
    # Page n is OCRed after beat n-1 (the file opened, for page 1): more beats say "still at n-1".
    for page in (1, 2, 3):
        assert beats.count(page - 1) >= 3


def test_a_scan_is_read_in_a_watched_reader_process(tmp_path):
    settings = make_settings(tmp_path / "data")
    readers = PdfReaders(settings, processes=1)
    try:
        doc, chunks = readers.read(str(make_scanned_pdf(tmp_path / "scan.pdf", scanned={1, 3})), "scan.pdf",
                                   PdfLimits.from_settings(settings))
    finally:
        readers.close()
    assert doc.ocr_pages == [1, 3] and chunks
    assert _accuracy(doc.pages[2].text, _chapter(3)) >= 0.95


def test_blank_scans_have_no_text(tmp_path):
    blank = Image.new("L", (1240, 1754), 255)
    with pytest.raises(InvalidInput) as err:
        read_pdf(make_image_pdf(tmp_path / "blank.pdf", [blank, blank]), "blank.pdf")
    assert err.value.code == "no_text"
    assert "not even by OCR" in err.value.message


def test_a_page_larger_than_the_cap_is_rendered_within_it(tmp_path):
    # Page 1 of the handout scanned, then printed on a 139 x 196 inch page: 300 DPI would be
    # 1.2 billion pixels. Rendered within the cap, its text is still large enough to read.
    source = pdfium.PdfDocument(make_pdf(tmp_path / "text.pdf"))
    scan = source[0].render(scale=150 / 72, grayscale=True).to_pil()
    source.close()
    size = (10_000.0, 10_000.0 * math.sqrt(2))
    path = make_image_pdf(tmp_path / "huge.pdf", [scan], size=size)
    pdf = pdfium.PdfDocument(path)
    try:
        image, dpi = pdf_module._render(pdf[0])
    finally:
        pdf.close()
    assert image.width * image.height <= ocr.MAX_PIXELS and max(image.size) <= ocr.MAX_SIDE
    assert image.width * image.height > 0.99 * ocr.MAX_PIXELS  # as sharp as the cap allows
    assert dpi == round(ocr.render_scale(*size) * 72) < ocr.DPI
    doc = read_pdf(path, "huge.pdf")
    assert doc.ocr_pages == [1]
    assert _accuracy(doc.pages[0].text, _chapter(1)) >= 0.95


@pytest.mark.parametrize("size", [(595.0, 842.0), (14_400.0, 14_400.0), (14_400.0, 3.0), (3.0, 14_400.0),
                                  (1_224.0, 1_584.0), (0.5, 0.5), (10_001.3, 7_777.7)])
def test_the_render_scale_keeps_every_page_within_the_caps(size):
    scale = ocr.render_scale(*size)
    width, height = (math.ceil(side * scale) for side in size)
    assert width * height <= ocr.MAX_PIXELS and max(width, height) <= ocr.MAX_SIDE
    assert scale <= ocr.DPI / 72
    if size == (595.0, 842.0):
        assert scale == ocr.DPI / 72  # an A4 page is read at the full resolution


def test_an_image_that_would_decode_to_gigabytes_is_refused_before_rendering(tmp_path):
    # 50 KB of Flate that declares a 20,000 x 20,000 image: PDFium would decode 400 MB to draw it.
    side = 20_000
    row = bytes(side // 8)
    image = hostile.stream([row * 1000] * (side // 1000), extra=b" /Type /XObject /Subtype /Image /Width %d /Height %d "
                           b"/ColorSpace /DeviceGray /BitsPerComponent 1" % (side, side))
    path = tmp_path / "bomb.pdf"
    path.write_bytes(hostile.one_page(hostile.stream(b"q 612 0 0 792 0 0 cm /Im1 Do Q"), image,
                                      xobjects=b"/XObject << /Im1 6 0 R >> "))
    assert path.stat().st_size < 200_000
    with pytest.raises(PayloadTooLarge) as err:
        read_pdf(path, "bomb.pdf")
    assert err.value.code == "pdf_too_large"
    assert "images on page 1 hold more than 100 million pixels" in err.value.message


def test_an_ocr_page_slower_than_the_limit_stops_the_reading_and_the_engine(tmp_path):
    with pytest.raises(InvalidInput) as err:
        read_pdf(make_scanned_pdf(tmp_path / "scan.pdf"), "scan.pdf", PdfLimits(page_seconds=0.3))
    assert err.value.code == "pdf_too_slow"
    assert err.value.message.startswith("Page 1 of the PDF took more than 0.3 s")
    assert _tesseract_children() == []


def test_the_engine_is_killed_when_its_time_is_up():
    noise = Image.effect_noise((2480, 3508), 100)  # a page of grain: seconds of work for the engine
    with pytest.raises(TimeoutError):
        ocr.recognise(noise, 300, 0.2)
    assert _tesseract_children() == []


def test_without_the_engine_scans_fail_clearly_and_text_pdfs_still_read(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert read_pdf(make_pdf(tmp_path / "text.pdf"), "text.pdf").ocr_pages == []
    with pytest.raises(ServiceUnavailable) as err:
        read_pdf(make_scanned_pdf(tmp_path / "scan.pdf", scanned={2}), "scan.pdf")
    assert err.value.code == "ocr_unavailable" and err.value.status_code == 503
    assert "OCR" in err.value.message and "/" not in err.value.message  # no path of the server's


def test_a_blank_line_ocr_leaves_inside_a_sentence_is_mended_and_others_kept():
    # Tesseract put "of pyruvate." in a block of its own on the scanned Cellular Respiration page.
    read = "split into two molecules\n\nof pyruvate.\n\nPyruvate enters\n\n\nthe mitochondria:\n\nwhere"
    assert pdf_module._OCR_BREAK_RE.sub(r"\1\n", read) == (
        "split into two molecules\nof pyruvate.\n\nPyruvate enters\nthe mitochondria:\n\nwhere")
