"""A stored PDF's page for the reader: drawn at the width asked, and a passage located on it as
boxes over the page as shown, a page turned by /Rotate included."""

from __future__ import annotations

import io

import pypdfium2 as pdfium
from PIL import Image

from factories import BIOLOGY, make_pdf
from profai.ingest.pdf_pages import find_text, render_png

SENTENCE = BIOLOGY[0][1][0][:80]  # the first words of the first paragraph on page 1


def test_a_page_is_drawn_at_the_width_asked(tmp_path):
    pdf = make_pdf(tmp_path / "bio.pdf")
    for width in (200, 800, 1600):
        image = Image.open(io.BytesIO(render_png(pdf, 1, width)))
        assert image.width == width and abs(image.height / width - 2**0.5) < 0.01  # A4 stands upright


def test_a_passage_is_found_whatever_its_spacing_and_not_found_elsewhere(tmp_path):
    pdf = make_pdf(tmp_path / "bio.pdf")
    boxes = find_text(pdf, 1, SENTENCE)
    assert boxes and all(0 <= b.x < b.x + b.w <= 1 and 0 <= b.y < b.y + b.h <= 1 for b in boxes)
    assert boxes[0].y < 0.3  # near the top of an upright page
    assert find_text(pdf, 1, "  ".join(SENTENCE.upper().split())) == boxes
    assert find_text(pdf, 2, SENTENCE) == []
    assert find_text(pdf, 1, "..") == []  # nothing to look for


def test_on_a_turned_page_the_boxes_turn_with_it(tmp_path):
    upright = make_pdf(tmp_path / "bio.pdf")
    doc = pdfium.PdfDocument(upright)
    doc[0].set_rotation(90)
    turned = tmp_path / "turned.pdf"
    doc.save(turned)
    doc.close()
    image = Image.open(io.BytesIO(render_png(turned, 1, 800)))
    assert image.width == 800 and image.height < 800  # shown on its side
    line = find_text(upright, 1, SENTENCE)[0]
    box = find_text(turned, 1, SENTENCE)[0]
    # Turned a quarter clockwise: the line runs down the right-hand side of the page.
    assert box.h > box.w and box.x > 0.6
    assert abs(box.y - line.x) < 0.01 and abs(box.h - line.w) < 0.01
