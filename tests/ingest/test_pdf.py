"""Reading PDFs: text, outline, and a clear error for every kind of bad file."""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from factories import BIOLOGY, make_blank_pdf, make_pdf
from profai.domain import OutlineEntry
from profai.errors import InvalidInput, UnsupportedFile
from profai.ingest.pdf import inspect_pdf, read_pdf

R_INTRO = Path("/usr/share/R/doc/manual/R-intro.pdf")


def test_reads_pages_in_order_with_numbers(tmp_path):
    path = make_pdf(tmp_path / "bio.pdf")
    doc = read_pdf(path, "Biology notes.pdf")
    assert doc.filename == "Biology notes.pdf"
    assert [p.number for p in doc.pages] == [1, 2, 3]
    for page, (title, paragraphs) in zip(doc.pages, BIOLOGY):
        assert page.text.startswith(title)
        # Wrapped lines are joined back into the original sentences.
        assert paragraphs[0].split(". ")[0] in page.text
    assert "\n\n" in doc.pages[0].text
    assert len(doc.sha256) == 64 and doc.sha256 == read_pdf(path, "other.pdf").sha256


def test_reads_outline(tmp_path):
    doc = read_pdf(make_pdf(tmp_path / "bio.pdf"), "bio.pdf")
    assert doc.outline == [
        OutlineEntry("Photosynthesis", 0, 1),
        OutlineEntry("Cellular Respiration", 0, 2),
        OutlineEntry("Genetics", 0, 3),
    ]
    assert read_pdf(make_pdf(tmp_path / "plain.pdf", outline=False), "plain.pdf").outline == []


def test_inspect_counts_pages(tmp_path):
    assert inspect_pdf(make_pdf(tmp_path / "bio.pdf", repeat=2)) == 6


def _code(excinfo) -> str:
    return excinfo.value.code


def test_empty_file(tmp_path):
    path = tmp_path / "empty.pdf"
    path.write_bytes(b"")
    for call in (inspect_pdf, lambda p: read_pdf(p, "empty.pdf")):
        with pytest.raises(InvalidInput) as excinfo:
            call(path)
        assert _code(excinfo) == "empty_file"
        assert excinfo.value.status_code == 422


@pytest.mark.parametrize(
    "content",
    [b"\x89PNG\r\n\x1a\n" + b"\x00" * 200, b"just some notes, definitely not a PDF\n" * 50],
)
def test_not_a_pdf_is_judged_by_content(tmp_path, content):
    path = tmp_path / "renamed.pdf"
    path.write_bytes(content)
    with pytest.raises(UnsupportedFile) as excinfo:
        inspect_pdf(path)
    assert _code(excinfo) == "not_a_pdf"
    assert excinfo.value.status_code == 415
    with pytest.raises(UnsupportedFile):
        read_pdf(path, "renamed.pdf")


def test_truncated_pdf_is_corrupt(tmp_path):
    data = make_pdf(tmp_path / "bio.pdf").read_bytes()
    path = tmp_path / "half.pdf"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InvalidInput) as excinfo:
        inspect_pdf(path)
    assert _code(excinfo) == "corrupt_pdf"
    with pytest.raises(InvalidInput) as excinfo:
        read_pdf(path, "half.pdf")
    assert _code(excinfo) == "corrupt_pdf"


def test_header_only_is_corrupt(tmp_path):
    path = tmp_path / "stub.pdf"
    path.write_bytes(b"%PDF-1.7\n%garbage that never becomes a document\n")
    with pytest.raises(InvalidInput) as excinfo:
        inspect_pdf(path)
    assert _code(excinfo) == "corrupt_pdf"


def test_encrypted_pdf(tmp_path):
    path = make_pdf(tmp_path / "secret.pdf", encrypt="pw")
    with pytest.raises(UnsupportedFile) as excinfo:
        inspect_pdf(path)
    assert _code(excinfo) == "encrypted_pdf"
    assert "password" in str(excinfo.value).lower()
    with pytest.raises(UnsupportedFile) as excinfo:
        read_pdf(path, "secret.pdf")
    assert _code(excinfo) == "encrypted_pdf"


def test_a_pdf_of_shapes_without_text_or_images_has_no_text(tmp_path):
    # Scans are read by OCR (test_ocr.py); pages drawing neither text nor images have nothing to read.
    path = make_blank_pdf(tmp_path / "shapes.pdf")
    assert inspect_pdf(path) == 2  # valid, just textless
    with pytest.raises(InvalidInput) as excinfo:
        read_pdf(path, "shapes.pdf")
    assert _code(excinfo) == "no_text"
    assert "not even by OCR" in str(excinfo.value)


def test_reading_from_threads_gives_identical_results(tmp_path):
    path = make_pdf(tmp_path / "bio.pdf", repeat=5)
    expected = read_pdf(path, "bio.pdf")
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: read_pdf(path, "bio.pdf"), range(12)))
        counts = list(pool.map(lambda _: inspect_pdf(path), range(12)))
    assert all(result == expected for result in results)
    assert counts == [15] * 12


def test_running_headers_are_removed_from_a_real_manual():
    if not R_INTRO.exists():
        pytest.skip("R-intro.pdf is not installed")
    doc = read_pdf(R_INTRO, "R-intro.pdf")
    assert len(doc.pages) == inspect_pdf(R_INTRO) > 50
    assert any(e.title.endswith("Introduction and preliminaries") and e.level == 0 for e in doc.outline)
    # Every page of a chapter repeats "Chapter N: ..." at its top; none should survive.
    assert sum(p.text.startswith("Chapter ") for p in doc.pages) <= 2
