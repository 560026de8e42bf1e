"""Read a PDF's text per page and its outline with PDFium, turning bad files into clear errors.
Pages without a text layer (scans) are rendered and read by OCR (ingest/ocr.py)."""

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

from profai.domain import OutlineEntry, Page, PdfDocument
from profai.errors import InvalidInput, UnsupportedFile
from profai.ingest import ocr
from profai.ingest.pdf_limits import PdfLimits, check_inflated, check_page_count, too_large, too_slow

# PDFium keeps global state and is not thread-safe: every call into it holds this lock.
_PDFIUM_LOCK = threading.Lock()
_ERR_PASSWORD = 4  # FPDF_ERR_PASSWORD
_HEADER_PROBE = 1024
_MAX_OUTLINE = 2000  # a runaway or cyclic outline should not stall ingestion
# A page with fewer letters and digits than this in its text layer, and an image, is read by OCR:
# a scanner's stamp ("Scanned with ...") or a page number may be all the text layer of a scan holds.
_SCANNED_BELOW = 32

_LINE_SPLIT_RE = re.compile(r"\r\n|\r|\n")
# Control characters PDFium emits (\x02 marks a layout hyphen that joined two lines).
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff\u00ad]")
_ALNUM_RE = re.compile(r"[^\W_]")
_SPACES_RE = re.compile(r"[ \t\u00a0\u2000-\u200b\u3000]+")
_PAGE_NUMBER_RE = re.compile(r"^\W*(?:page\s*)?\d+(?:\s*(?:of|/)\s*\d+)?\W*$", re.IGNORECASE)
_SENTENCE_END = (".", "!", "?", ":", ";", "…", '"', "”", ")")
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
        with _PDFIUM_LOCK:
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
    with _PDFIUM_LOCK:
        pdf = _open(data)
    try:
        with _PDFIUM_LOCK:
            count = len(pdf)
        check_page_count(count, limits)
        beat(0)
        raw_pages, ocr_pages = _read_pages(pdf, count, limits, beat)
        with _PDFIUM_LOCK:
            outline = _read_outline(pdf, count)
    finally:
        with _PDFIUM_LOCK:
            pdf.close()
    if not raw_pages:
        raise _corrupt("The PDF has no pages.")
    pages = _clean_pages(raw_pages, lambda: beat(len(raw_pages)))
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
                ) -> tuple[list[str], list[int]]:
    """Every page's text, within the character budget, each page within its time, and the numbers
    of the pages read by OCR. The lock is held for each page's PDFium calls, not while OCR runs.

    An OCRed page has the same PDF_PAGE_SECONDS as any other: rendering and reading a dense page
    at 300 DPI takes ~1.5 s on one core here (~3 s at the MAX_PIXELS cap), well inside the 10 s
    default; the watcher hears from the reader every half second meanwhile, and the engine is
    killed when the page's time is up."""
    texts: list[str] = []
    scanned: list[int] = []
    chars_left = limits.max_chars
    for index in range(count):
        started = time.monotonic()
        with _PDFIUM_LOCK:
            text, scan = _page_text(pdf, index, limits, chars_left)
        if scan is not None:
            text = _recognise(scan, index, limits, started, beat)
            scanned.append(index + 1)
            if len(text) > chars_left:
                raise too_large(f"it holds more than {limits.max_chars:,} characters of text")
        if time.monotonic() - started > limits.page_seconds:
            raise too_slow(index + 1, limits)
        chars_left -= len(text)
        texts.append(text)
        beat(index + 1)
    return texts, scanned


Scan = tuple[Image.Image, int]  # a page rendered for OCR, and its resolution in DPI


def _page_text(pdf: pdfium.PdfDocument, index: int, limits: PdfLimits, chars_left: int) -> tuple[str, Scan | None]:
    """The page's text layer, and the page rendered for OCR when that layer is (almost) empty
    but the page draws images: a scan."""
    try:
        page = pdf[index]
    except pdfium.PdfiumError:
        raise _broken_page(index) from None
    try:
        try:
            if pdfium_c.FPDFPage_CountObjects(page.raw) > limits.max_page_objects:
                raise too_large(f"page {index + 1} is drawn from more than {limits.max_page_objects:,} objects")
            text = _text_layer(page, limits, chars_left)
        except pdfium.PdfiumError:
            text = ""  # one page without a readable text layer should not lose the rest of the document
        if _alnum_count(text, _SCANNED_BELOW) >= _SCANNED_BELOW:
            return text, None
        try:
            return text, (_render(page) if _draws_images(page, index, limits) else None)
        except (pdfium.PdfiumError, ValueError):
            return text, None  # a page PDFium cannot render keeps what text it has
    finally:
        page.close()


def _text_layer(page: pdfium.PdfPage, limits: PdfLimits, chars_left: int) -> str:
    textpage = page.get_textpage()
    try:
        if textpage.count_chars() > chars_left:  # counted before any of it is copied out
            raise too_large(f"it holds more than {limits.max_chars:,} characters of text")
        return textpage.get_text_bounded()
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


def _clean_pages(raw_pages: list[str], beat: Callable[[], None] = lambda: None) -> list[Page]:
    """Normalise text, drop running headers/footers, rebuild paragraphs; `beat()` after each page."""
    page_lines = []
    for raw in raw_pages:
        page_lines.append(_normalise_lines(raw))
        beat()
    repeated = _running_lines(page_lines)
    pages = []
    for number, lines in enumerate(page_lines, start=1):
        lines = _strip_edges(lines, number, repeated)
        pages.append(Page(number=number, text="\n\n".join(_paragraphs(lines))))
        beat()
    return pages


def _normalise_lines(raw: str) -> list[str]:
    text = unicodedata.normalize("NFKC", raw)
    text = text.replace("\x02", "")  # PDFium already joined the hyphenated halves
    text = _CONTROL_RE.sub("", text)
    return [_SPACES_RE.sub(" ", line).strip() for line in _LINE_SPLIT_RE.split(text)]


EdgeKey = tuple[str, int | None]


def _edge_keys(line: str, page_number: int) -> list[EdgeKey]:
    """Identities of an edge line across pages.

    A running header carries the page number, so printed number minus page index stays
    constant; numbered chapter titles ("Genetics 2" on pages 3, 6, 9) do not repeat that way.
    The second key catches "Chapter 3: Objects ... 15" headers whose chapter is only 2 pages long.
    """
    key = re.sub(r"\d+", "#", line).strip().lower()
    numbers = re.findall(r"\d+", line)
    if not numbers or len(numbers[-1]) > 5:
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
        body = [line for line in lines if line]
        counts.update({k for line in body[:1] + body[-1:] for k in _edge_keys(line, number)})
    return {key for key, n in counts.items() if n >= (4 if key[0].startswith("^") else 3)}


def _strip_edges(lines: list[str], number: int, repeated: set[EdgeKey]) -> list[str]:
    """The lines without blank, page-number and running-header lines at either end (by index:
    popping from the front of a page of a million such lines would be quadratic)."""
    def edge(line: str) -> bool:
        return not line or bool(_PAGE_NUMBER_RE.match(line)) or any(k in repeated for k in _edge_keys(line, number))

    start, end = 0, len(lines)
    while start < end and edge(lines[start]):
        start += 1
    while end > start and edge(lines[end - 1]):
        end -= 1
    return lines[start:end]


def _paragraphs(lines: list[str]) -> list[str]:
    """Join wrapped lines into paragraphs; a short line ends one, a heading-like line starts one."""
    lengths = sorted(len(line) for line in lines if line)
    if not lengths:
        return []
    typical = lengths[int(len(lengths) * 0.8)] if len(lengths) > 4 else lengths[-1]
    paragraphs: list[str] = []
    current: list[str] = []  # the paragraph's pieces, joined once it ends
    for i, line in enumerate(lines):
        if not line:
            _flush(paragraphs, current)
            continue
        _join(current, line)
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        short = len(line) < 0.7 * typical
        ends = line.endswith(_SENTENCE_END)
        if short or (ends and len(line) < 0.85 * typical) or (ends and _heading_like(nxt, typical)):
            _flush(paragraphs, current)
    _flush(paragraphs, current)
    return paragraphs


def _heading_like(line: str, typical: int) -> bool:
    return bool(line) and len(line) < 0.6 * typical and not line.endswith(_SENTENCE_END) and line[0].isupper()


def _join(current: list[str], line: str) -> None:
    """Add a line to the pieces of a paragraph. Pieces, not one growing string: a page can be one
    paragraph of millions of characters, and re-copying it for every line would be quadratic.
    The last piece is always a whole line (lines are never blank here)."""
    if not current:
        current.append(line)
        return
    last = current[-1]
    # "exam-" + "ple" is line-end hyphenation; "light-" + "Dependent" or "-" alone is not.
    if len(last) > 1 and last.endswith("-") and last[-2].isalpha() and line[:1].islower():
        current[-1] = last[:-1]
        current.append(line)
    else:
        current += (" ", line)


def _flush(paragraphs: list[str], current: list[str]) -> None:
    text = "".join(current).strip()
    if text:
        paragraphs.append(text)
    current.clear()
