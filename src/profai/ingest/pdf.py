"""Read a PDF's text per page and its outline with PDFium, turning bad files into clear errors.
Each page becomes blocks (ingest/pdf_blocks.py) from its lines and their fonts (ingest/pdf_lines.py),
without running headers, footers and navigation pages, and with its printed page number
(ingest/page_labels.py). Pages without a text layer (scans) are rendered and read by OCR (ingest/ocr.py)."""

from __future__ import annotations

import hashlib
import mmap
import os
import re
import threading
import time
import unicodedata
from collections import Counter
from collections.abc import Callable
from itertools import islice
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image

from profai.domain import OutlineEntry, Page, PdfDocument, blocks_text
from profai.errors import InvalidInput, UnsupportedFile
from profai.ingest import ocr
from profai.ingest.page_labels import page_labels
from profai.ingest.pdf_blocks import DocStyle, is_navigation, page_blocks
from profai.ingest.pdf_limits import PdfLimits, check_inflated, check_page_count, too_large, too_slow
from profai.ingest.pdf_lines import Line, plain_lines, read_lines

# PDFium keeps global state and is not thread-safe: every call into it holds this lock.
PDFIUM_LOCK = threading.Lock()
_ERR_PASSWORD = 4  # FPDF_ERR_PASSWORD
_HEADER_PROBE = 1024
_MAX_OUTLINE = 2000  # a runaway or cyclic outline should not stall ingestion
# A page with fewer letters and digits than this in its text layer, and an image, is read by OCR:
# a scanner's stamp ("Scanned with ...") or a page number may be all the text layer of a scan holds.
_SCANNED_BELOW = 32

# Control characters PDFium emits (\x02 marks a layout hyphen that joined two lines).
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff\u00ad]")
_ALNUM_RE = re.compile(r"[^\W_]")
_SPACES_RE = re.compile(r"[ \t\u00a0\u2000-\u200b\u3000]+")
_PAGE_NUMBER_RE = re.compile(r"^\W*(?:page\s*)?(?:\d+|[ivxlc]{1,7})(?:\s*(?:of|/)\s*\d+)?\W*$", re.IGNORECASE)
# Tesseract leaves a blank line between the blocks it sees, which are mostly paragraphs; one
# between a line that ends mid-sentence and a line going on in lower case is not.
_OCR_BREAK_RE = re.compile(r"([^\s.!?:;…\"”)])[ \t]*\n(?:[ \t]*\n)+(?=[ \t]*[a-z])")
DEFAULT_LIMITS = PdfLimits()


def inspect_pdf(path: Path, limits: PdfLimits = DEFAULT_LIMITS) -> int:
    """Validate a PDF cheaply (no text extraction) and return its page count: refuses at once one
    past the page limit, whose page tree is damaged, or whose streams decompress past the limits."""
    with Path(path).open("rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        _check_bytes(size, handle.read(_HEADER_PROBE))
        with PDFIUM_LOCK:
            pdf = _open(Path(path))
            try:
                count = len(pdf)
                check_page_count(count, limits)
                for index in range(count):  # each page's dictionary, without parsing its content
                    _page_size(pdf, index)
            finally:
                pdf.close()
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as view:
            check_inflated(view, limits)
    if count == 0:
        raise _corrupt("The PDF has no pages.")
    return count


def read_pdf(path: Path, filename: str, limits: PdfLimits = DEFAULT_LIMITS,
             on_page: Callable[[int], None] | None = None) -> PdfDocument:
    """Extract cleaned text per page and the outline of the PDF at `path`, within `limits`; pages
    without a text layer but with images are read by OCR, and listed in `ocr_pages`.
    `on_page(n)` says how far it got, for a watcher: n = 0 once the file is open, the page
    number after each page is read (and the one before it every half second while a page is
    OCRed), then the page count again as each page is cleaned."""
    data = Path(path).read_bytes()
    _check_bytes(len(data), data[:_HEADER_PROBE])
    check_inflated(data, limits)
    beat = on_page or (lambda _: None)
    with PDFIUM_LOCK:
        pdf = _open(data)
    try:
        with PDFIUM_LOCK:
            count = len(pdf)
        check_page_count(count, limits)
        beat(0)
        raw_pages, ocr_pages = _read_pages(pdf, count, limits, beat)
        with PDFIUM_LOCK:
            outline = _read_outline(pdf, count)
            labels = _read_labels(pdf, count)
    finally:
        with PDFIUM_LOCK:
            pdf.close()
    if not raw_pages:
        raise _corrupt("The PDF has no pages.")
    pages = _clean_pages(raw_pages, labels, lambda: beat(len(raw_pages)))
    if not _has_text(pages):
        raise InvalidInput(
            "No text could be read from this PDF, not even by OCR of its scanned pages: they may be blank, "
            "too faint, or drawn as shapes. Upload a PDF whose pages have text you can select, or a clearer scan.",
            code="no_text",
        )
    return PdfDocument(filename=filename, sha256=hashlib.sha256(data).hexdigest(), pages=pages, outline=outline,
                       ocr_pages=ocr_pages)


def _has_text(pages: list[Page], minimum: int = 10) -> bool:
    """At least `minimum` letters or digits; a blank scan yields none, or a few stray glyphs."""
    found = 0
    for page in pages:
        found += _alnum_count(page.text, minimum - found)
        if found >= minimum:
            return True
    return False


def _alnum_count(text: str, limit: int) -> int:
    """Letters and digits in `text`, counted up to `limit` (a page of a million stops there)."""
    return sum(1 for _ in islice(_ALNUM_RE.finditer(text), limit))


def _check_bytes(size: int, head: bytes) -> None:
    if size == 0:
        raise InvalidInput("The file is empty. Choose a PDF that has content and upload it again.", code="empty_file")
    if b"%PDF-" not in head:
        raise UnsupportedFile(
            "This file is not a PDF (its content does not start like one). Upload a PDF document.",
            code="not_a_pdf",
        )


def _open(source: Path | bytes) -> pdfium.PdfDocument:
    """Open with PDFium (caller holds the lock), mapping its errors to ours."""
    try:
        return pdfium.PdfDocument(source)
    except pdfium.PdfiumError as exc:
        # PDFium's last error is process-wide and only set by some failures: a file without a page
        # tree, opened after an encrypted one, still reads "password". So the file must say so too.
        if getattr(exc, "err_code", None) == _ERR_PASSWORD and _has_encrypt(source):
            raise UnsupportedFile(
                "This PDF is password-protected. Remove the password (e.g. print it to a new PDF) "
                "and upload it again.",
                code="encrypted_pdf",
            ) from exc
        raise _corrupt("The PDF could not be opened; it may be damaged or incomplete.") from exc


def _has_encrypt(source: Path | bytes) -> bool:
    """Whether the file has an /Encrypt entry anywhere (a trailer's, or a cross-reference stream's)."""
    if isinstance(source, bytes):
        return b"/Encrypt" in source
    with source.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as view:
        return view.find(b"/Encrypt") >= 0


def _corrupt(reason: str) -> InvalidInput:
    return InvalidInput(f"{reason} Re-export or re-download the file and upload it again.", code="corrupt_pdf")


def _page_size(pdf: pdfium.PdfDocument, index: int) -> None:
    try:
        pdf.get_page_size(index)
    except pdfium.PdfiumError:
        raise _broken_page(index) from None


def _broken_page(index: int) -> InvalidInput:
    # A page PDFium cannot find or load means a damaged page tree; reading on would misnumber
    # what follows (lessons cite pages), so the file is refused as corrupt.
    return _corrupt(f"Page {index + 1} of the PDF cannot be read: its page tree is damaged.")


def _read_pages(pdf: pdfium.PdfDocument, count: int, limits: PdfLimits, beat: Callable[[int], None]
                ) -> tuple[list[list[Line]], list[int]]:
    """Every page's text, within the character budget, each page within its time, and the numbers
    of the pages read by OCR. The lock is held for each page's PDFium calls, not while OCR runs.

    An OCRed page has the same PDF_PAGE_SECONDS as any other: rendering and reading a dense page
    at 300 DPI takes ~1.5 s on one core here (~3 s at the MAX_PIXELS cap), well inside the 10 s
    default; the watcher hears from the reader every half second meanwhile, and the engine is
    killed when the page's time is up."""
    pages: list[list[Line]] = []
    scanned: list[int] = []
    chars_left = limits.max_chars
    for index in range(count):
        started = time.monotonic()
        with PDFIUM_LOCK:
            text, lines, scan = _page_text(pdf, index, limits, chars_left)
        if scan is not None:
            text = _recognise(scan, index, limits, started, beat)
            lines = plain_lines(text)
            scanned.append(index + 1)
            if len(text) > chars_left:
                raise too_large(f"it holds more than {limits.max_chars:,} characters of text")
        if time.monotonic() - started > limits.page_seconds:
            raise too_slow(index + 1, limits)
        chars_left -= len(text)
        pages.append(lines)
        beat(index + 1)
    return pages, scanned


Scan = tuple[Image.Image, int]  # a page rendered for OCR, and its resolution in DPI


def _page_text(pdf: pdfium.PdfDocument, index: int, limits: PdfLimits, chars_left: int
               ) -> tuple[str, list[Line], Scan | None]:
    """The page's text layer and its lines, and the page rendered for OCR when that layer is
    (almost) empty but the page draws images: a scan."""
    try:
        page = pdf[index]
    except pdfium.PdfiumError:
        raise _broken_page(index) from None
    try:
        try:
            if pdfium_c.FPDFPage_CountObjects(page.raw) > limits.max_page_objects:
                raise too_large(f"page {index + 1} is drawn from more than {limits.max_page_objects:,} objects")
            text, lines = _text_layer(page, limits, chars_left)
        except pdfium.PdfiumError:
            text, lines = "", []  # one page without a readable text layer should not lose the rest of the document
        if _alnum_count(text, _SCANNED_BELOW) >= _SCANNED_BELOW:
            return text, lines, None
        try:
            return text, lines, (_render(page) if _draws_images(page, index, limits) else None)
        except (pdfium.PdfiumError, ValueError):
            return text, lines, None  # a page PDFium cannot render keeps what text it has
    finally:
        page.close()


def _text_layer(page: pdfium.PdfPage, limits: PdfLimits, chars_left: int) -> tuple[str, list[Line]]:
    textpage = page.get_textpage()
    try:
        if textpage.count_chars() > chars_left:  # counted before any of it is copied out
            raise too_large(f"it holds more than {limits.max_chars:,} characters of text")
        return read_lines(textpage)
    finally:
        textpage.close()


def _draws_images(page: pdfium.PdfPage, index: int, limits: PdfLimits) -> bool:
    """Whether the page draws an image, in its content or its forms. The images' sizes come from
    their dictionaries: one that would decode past ocr.MAX_IMAGE_PIXELS refuses the file before
    rendering, and so does a page whose forms unfold into more than max_page_objects objects."""
    pixels = 0
    found = False
    for seen, obj in enumerate(page.get_objects(), start=1):
        if seen > limits.max_page_objects:
            raise too_large(f"page {index + 1} is drawn from more than {limits.max_page_objects:,} objects")
        if obj.type == pdfium_c.FPDF_PAGEOBJ_IMAGE:
            found = True
            width, height = obj.get_px_size()
            pixels += width * height
            if pixels > ocr.MAX_IMAGE_PIXELS:
                raise too_large(f"the images on page {index + 1} hold more than "
                                f"{ocr.MAX_IMAGE_PIXELS // 1_000_000:,} million pixels")
    return found


def _render(page: pdfium.PdfPage) -> Scan:
    """The page in grey at ocr.DPI, or lower where that would pass ocr.MAX_PIXELS."""
    width, height = page.get_size()
    scale = ocr.render_scale(width, height)
    bitmap = page.render(scale=scale, grayscale=True)
    try:
        image = bitmap.to_pil().copy()  # its own pixels, not the bitmap's buffer, once the lock is let go
    finally:
        bitmap.close()
    return image, max(1, round(scale * 72))


def _recognise(scan: Scan, index: int, limits: PdfLimits, started: float, beat: Callable[[int], None]) -> str:
    """The text OCR reads on the page, within what is left of the page's time."""
    image, dpi = scan
    try:
        text = ocr.recognise(image, dpi, limits.page_seconds - (time.monotonic() - started), lambda: beat(index))
    except TimeoutError:
        raise too_slow(index + 1, limits) from None
    except ocr.OcrFailed:
        raise InvalidInput(f"Page {index + 1} of the PDF is a scanned image that OCR could not read. Print it to a "
                           "new PDF, or scan it again, and upload that.", code="ocr_failed") from None
    finally:
        image.close()
    return _OCR_BREAK_RE.sub(r"\1\n", text)


def _read_outline(pdf: pdfium.PdfDocument, page_count: int) -> list[OutlineEntry]:
    entries: list[OutlineEntry] = []
    try:
        for bookmark in pdf.get_toc():
            if len(entries) >= _MAX_OUTLINE:
                break
            dest = bookmark.get_dest()
            index = dest.get_index() if dest is not None else None
            if index is None or not 0 <= index < page_count:
                continue
            title = " ".join(_CONTROL_RE.sub("", bookmark.get_title() or "").split())
            if title:
                entries.append(OutlineEntry(title=title, level=bookmark.level, page=index + 1))
    except pdfium.PdfiumError:
        pass  # a broken outline still leaves usable text; structure falls back to headings
    return entries


def _read_labels(pdf: pdfium.PdfDocument, count: int) -> list[str]:
    """The PDF's page labels (its /PageLabels), "" for each page where it has none."""
    try:
        return [pdf.get_page_label(index) for index in range(count)]
    except pdfium.PdfiumError:
        return [""] * count


def _clean_pages(raw_pages: list[list[Line]], pdf_labels: list[str], beat: Callable[[], None] = lambda: None
                 ) -> list[Page]:
    """Normalise text, drop running headers/footers and navigation pages, find blocks and printed
    page numbers; `beat()` after each page."""
    page_lines = []
    for raw in raw_pages:
        page_lines.append(_normalise_lines(raw))
        beat()
    texts = [[line.text for line in lines] for lines in page_lines]
    labels = page_labels(pdf_labels, texts)
    repeated = _running_lines(texts)
    kept = [_strip_edges(lines, number, repeated) for number, lines in enumerate(page_lines, start=1)]
    navigation = [is_navigation(lines) for lines in kept]
    style = DocStyle.of(kept)
    pages = []
    for number, lines in enumerate(kept, start=1):
        # A document that is all lists of numbers is read as it is, not as nothing.
        blocks = () if navigation[number - 1] and not all(navigation) else page_blocks(lines, style)
        pages.append(Page(number=number, text=blocks_text(blocks), blocks=blocks,
                          label=labels[number - 1]))
        beat()
    return pages


def _normalise_lines(raw: list[Line]) -> list[Line]:
    """Each line's text normalised; the page's lines in one pass where that keeps them apart."""
    texts = _SPACES_RE.sub(" ", _normalise("\n".join(line.text for line in raw))).split("\n")
    if len(texts) != len(raw):  # a compatibility form that folds into a line break
        texts = [_SPACES_RE.sub(" ", _normalise(line.text)) for line in raw]
    for line, text in zip(raw, texts, strict=True):
        line.text = text.strip()
        if line.words:
            line.words = [(x, word) for x, word in ((x, _normalise(w)) for x, w in line.words) if word]
    return raw


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    text = text.replace("\x02", "")  # PDFium already joined the hyphenated halves
    return _CONTROL_RE.sub("", text)


EdgeKey = tuple[str, int | None]


def _edge_keys(line: str, page_number: int) -> list[EdgeKey]:
    """Identities of an edge line across pages.

    A running header carries the page number, first or last, so printed number minus page index
    stays constant; numbered chapter titles ("Genetics 2" on pages 3, 6, 9) do not repeat that
    way. The second key catches "Chapter 3: Objects ... 15" and "184 Chapter 19. The Goodies"
    headers whose chapter is only a few pages long: their first words and the page's distance.
    """
    key = re.sub(r"\d+", "#", line).strip().lower()
    numbers = re.findall(r"\d+", line)
    if not numbers:
        return [(key, None)]
    if line.startswith(numbers[0]) and len(numbers[0]) <= 5:
        offset = int(numbers[0]) - page_number
        return [(key, offset), ("^" + " ".join(key.split()[:2]), offset)]
    if len(numbers[-1]) > 5:
        return [(key, None)]
    offset = int(numbers[-1]) - page_number
    keys: list[EdgeKey] = [(key, offset)]
    if line.rstrip().endswith(numbers[-1]):
        keys.append(("^" + key.split()[0], offset))
    return keys


def _running_lines(page_lines: list[list[str]]) -> set[EdgeKey]:
    """Keys of first/last lines repeated on several pages: running headers and footers."""
    if len(page_lines) < 4:
        return set()
    counts: Counter[EdgeKey] = Counter()
    for number, lines in enumerate(page_lines, start=1):
        body = [line for line in lines if line and not _PAGE_NUMBER_RE.match(line)]  # inside a bare folio
        counts.update({k for line in body[:1] + body[-1:] for k in _edge_keys(line, number)})
    return {key for key, n in counts.items() if n >= (4 if key[0].startswith("^") else 3)}


def _strip_edges(lines: list[Line], number: int, repeated: set[EdgeKey]) -> list[Line]:
    """The lines without blank, page-number and running-header lines at either end (by index:
    popping from the front of a page of a million such lines would be quadratic)."""
    def edge(line: Line) -> bool:
        text = line.text
        return not text or bool(_PAGE_NUMBER_RE.match(text)) or any(k in repeated for k in _edge_keys(text, number))

    start, end = 0, len(lines)
    while start < end and edge(lines[start]):
        start += 1
    while end > start and edge(lines[end - 1]):
        end -= 1
    return lines[start:end]
