"""Read a PDF's text per page and its outline with PDFium, turning bad files into clear errors."""

from __future__ import annotations

import hashlib
import re
import threading
import unicodedata
from collections import Counter
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import pypdfium2 as pdfium

from profai.errors import InvalidInput, UnsupportedFile

# PDFium keeps global state and is not thread-safe: every call into it holds this lock.
_PDFIUM_LOCK = threading.Lock()
_ERR_PASSWORD = 4  # FPDF_ERR_PASSWORD
_HEADER_PROBE = 1024
_MAX_OUTLINE = 2000  # a runaway or cyclic outline should not stall ingestion

_LINE_SPLIT_RE = re.compile(r"\r\n|\r|\n")
# Control characters PDFium emits (\x02 marks a layout hyphen that joined two lines).
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff\u00ad]")
_ALNUM_RE = re.compile(r"[^\W_]")
_SPACES_RE = re.compile(r"[ \t\u00a0\u2000-\u200b\u3000]+")
_PAGE_NUMBER_RE = re.compile(r"^\W*(?:page\s*)?\d+(?:\s*(?:of|/)\s*\d+)?\W*$", re.IGNORECASE)
_SENTENCE_END = (".", "!", "?", ":", ";", "…", '"', "”", ")")


@dataclass(frozen=True)
class Page:
    """One page's cleaned text; paragraphs are separated by a blank line."""

    number: int  # 1-based
    text: str


@dataclass(frozen=True)
class OutlineEntry:
    """One bookmark of the PDF outline."""

    title: str
    level: int  # 0 = top level
    page: int  # 1-based


@dataclass(frozen=True)
class PdfDocument:
    """The text and outline of one PDF."""

    filename: str  # display name only, never used as a path
    sha256: str  # of the file bytes
    pages: list[Page]
    outline: list[OutlineEntry]


def inspect_pdf(path: Path) -> int:
    """Validate a PDF cheaply (no text extraction) and return its page count."""
    path = Path(path)
    size = path.stat().st_size
    with path.open("rb") as handle:
        head = handle.read(_HEADER_PROBE)
    _check_bytes(size, head)
    with _PDFIUM_LOCK:
        pdf = _open(path)
        try:
            count = len(pdf)
        finally:
            pdf.close()
    if count == 0:
        raise _corrupt("The PDF has no pages.")
    return count


def read_pdf(path: Path, filename: str) -> PdfDocument:
    """Extract cleaned text per page and the outline of the PDF at `path`."""
    data = Path(path).read_bytes()
    _check_bytes(len(data), data[:_HEADER_PROBE])
    with _PDFIUM_LOCK:
        pdf = _open(data)
        try:
            raw_pages = [_page_text(pdf, index) for index in range(len(pdf))]
            outline = _read_outline(pdf, len(raw_pages))
        finally:
            pdf.close()
    if not raw_pages:
        raise _corrupt("The PDF has no pages.")
    pages = _clean_pages(raw_pages)
    if not _has_text(pages):
        raise InvalidInput(
            "No text could be extracted from this PDF; it is probably a scan. "
            "Run it through OCR (e.g. ocrmypdf) and upload the result.",
            code="no_text",
        )
    return PdfDocument(filename=filename, sha256=hashlib.sha256(data).hexdigest(), pages=pages, outline=outline)


def _has_text(pages: list[Page], minimum: int = 10) -> bool:
    """At least `minimum` letters or digits; a scan yields none, or a few stray glyphs."""
    found = 0
    for page in pages:
        found += sum(1 for _ in islice(_ALNUM_RE.finditer(page.text), minimum - found))
        if found >= minimum:
            return True
    return False


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
        if getattr(exc, "err_code", None) == _ERR_PASSWORD:
            raise UnsupportedFile(
                "This PDF is password-protected. Remove the password (e.g. print it to a new PDF) "
                "and upload it again.",
                code="encrypted_pdf",
            ) from exc
        raise _corrupt("The PDF could not be opened; it may be damaged or incomplete.") from exc


def _corrupt(reason: str) -> InvalidInput:
    return InvalidInput(f"{reason} Re-export or re-download the file and upload it again.", code="corrupt_pdf")


def _page_text(pdf: pdfium.PdfDocument, index: int) -> str:
    page = pdf[index]
    try:
        textpage = page.get_textpage()
        try:
            return textpage.get_text_bounded()
        finally:
            textpage.close()
    except pdfium.PdfiumError:
        # One unreadable page should not lose the rest of the document.
        return ""
    finally:
        page.close()


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


def _clean_pages(raw_pages: list[str]) -> list[Page]:
    """Normalise text, drop running headers/footers, rebuild paragraphs."""
    page_lines = [_normalise_lines(raw) for raw in raw_pages]
    repeated = _running_lines(page_lines)
    pages = []
    for number, lines in enumerate(page_lines, start=1):
        lines = _strip_edges(lines, number, repeated)
        pages.append(Page(number=number, text="\n\n".join(_paragraphs(lines))))
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
    keys = [(key, offset)]
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
    body = list(lines)
    for edge in (0, -1):
        while body and (
            not body[edge]
            or _PAGE_NUMBER_RE.match(body[edge])
            or any(k in repeated for k in _edge_keys(body[edge], number))
        ):
            body.pop(edge)
    return body


def _paragraphs(lines: list[str]) -> list[str]:
    """Join wrapped lines into paragraphs; a short line ends one, a heading-like line starts one."""
    lengths = sorted(len(line) for line in lines if line)
    if not lengths:
        return []
    typical = lengths[int(len(lengths) * 0.8)] if len(lengths) > 4 else lengths[-1]
    paragraphs: list[str] = []
    current = ""
    for i, line in enumerate(lines):
        if not line:
            current = _flush(paragraphs, current)
            continue
        current = _join(current, line)
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        short = len(line) < 0.7 * typical
        ends = line.endswith(_SENTENCE_END)
        if short or (ends and len(line) < 0.85 * typical) or (ends and _heading_like(nxt, typical)):
            current = _flush(paragraphs, current)
    _flush(paragraphs, current)
    return paragraphs


def _heading_like(line: str, typical: int) -> bool:
    return bool(line) and len(line) < 0.6 * typical and not line.endswith(_SENTENCE_END) and line[0].isupper()


def _join(current: str, line: str) -> str:
    if not current:
        return line
    # "exam-" + "ple" is line-end hyphenation; "light-" + "Dependent" or "-" alone is not.
    if current.endswith("-") and len(current) > 1 and current[-2].isalpha() and line[:1].islower():
        return current[:-1] + line
    return f"{current} {line}"


def _flush(paragraphs: list[str], current: str) -> str:
    if current.strip():
        paragraphs.append(current.strip())
    return ""
