"""One page of a stored PDF for the reader: the page as a PNG image, and where a passage's text
sits on it (boxes in fractions of the page, so they fit the image at any width)."""

from __future__ import annotations

import io
import math
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

# PDFium is not thread-safe: every call into it holds the lock that ingestion holds too.
from profai.ingest.pdf import PDFIUM_LOCK

# A page drawn past this many pixels (a strip 1 pt wide and metres tall) is drawn smaller:
# the width asked for must not turn into a 100 MB bitmap.
MAX_PIXELS = 1600 * 2400
# How many letters and digits of a passage locate it; PDFs and passages differ in spaces, line
# breaks, hyphens and ligatures, so only letters and digits are compared.
LOCATE_CHARS = 60
SHORTER_LOCATE = 24  # a second try, when the passage's start was cleaned differently (a running header)
MIN_LOCATE = 4  # fewer letters than this would match anywhere


class PageUnreadable(Exception):
    """PDFium could not open the file or the page (the message never leaves the server)."""


@dataclass(frozen=True)
class Box:
    """A rectangle on the page as it is shown, in fractions of its width and height from the top left."""

    x: float
    y: float
    w: float
    h: float


def render_png(path: Path, page: int, width: int) -> bytes:
    """Page `page` (1-based) of the PDF at `path`, `width` pixels wide, as PNG bytes."""
    with _page(path, page) as pdf_page:
        page_width, page_height = pdf_page.get_size()
        # A hair below the exact factor: PDFium rounds the bitmap's size up.
        scale = (width - 0.01) / max(page_width, 1.0)
        if page_width * page_height * scale * scale > MAX_PIXELS:
            scale = math.sqrt(MAX_PIXELS / (page_width * page_height))
        bitmap = pdf_page.render(scale=scale)
        try:
            image = bitmap.to_pil().copy()  # its own pixels, not the bitmap's buffer, once the lock goes
        finally:
            bitmap.close()
    out = io.BytesIO()
    # Encoding is most of the time a page takes; the lightest compression is 3x faster than the
    # default for files a fifth larger, and each image is encoded once and then cached.
    image.save(out, "PNG", compress_level=1)
    return out.getvalue()


def find_text(path: Path, page: int, text: str) -> list[Box]:
    """Where `text` begins on page `page` (1-based), as boxes (a line each); none if it is not there.
    The passage is located by its first letters and digits, then followed as far as it goes on."""
    wanted = _letters(text)
    if len(wanted) < MIN_LOCATE:
        return []
    with _page(path, page) as pdf_page:
        textpage = pdf_page.get_textpage()
        try:
            chars = "".join(chr(pdfium_c.FPDFText_GetUnicode(textpage, i)) for i in range(textpage.count_chars()))
            found = _locate(chars, wanted)
            if found is None:
                return []
            first, last = found
            rects = [textpage.get_rect(i) for i in range(textpage.count_rects(first, last - first + 1))]
        finally:
            textpage.close()
        frame = _Frame(pdf_page)
    boxes = [box for rect in rects if (box := frame.box(rect)) is not None]
    return _lines(boxes) if frame.rotation in (0, 180) else boxes  # turned pages: lines are columns


@contextmanager
def _page(path: Path, page: int) -> Iterator[pdfium.PdfPage]:
    """Page `page` (1-based) of the PDF, open while the PDFium lock is held; PDFium's failures
    (and a page it does not have) as PageUnreadable. Closing the document closes the page."""
    with PDFIUM_LOCK:
        try:
            pdf = pdfium.PdfDocument(path)
        except pdfium.PdfiumError as exc:
            raise PageUnreadable(str(exc)) from exc
        try:
            yield pdf[page - 1]
        except (pdfium.PdfiumError, IndexError, ValueError) as exc:
            raise PageUnreadable(f"page {page}: {exc}") from exc
        finally:
            pdf.close()


def _letters(text: str) -> str:
    """The letters and digits of `text`, compatibility-folded (ligatures split) and case-folded."""
    return "".join(c for c in unicodedata.normalize("NFKC", text).casefold() if c.isalnum())


def _locate(chars: str, wanted: str) -> tuple[int, int] | None:
    """The first and last char index of the page's text where `wanted` begins and as far as it goes."""
    keys: list[str] = []
    index: list[int] = []  # the page's char index of each entry of keys
    for i, c in enumerate(chars):
        for k in _letters(c):
            keys.append(k)
            index.append(i)
    page = "".join(keys)
    for length in (LOCATE_CHARS, SHORTER_LOCATE):
        at = page.find(wanted[:length])
        if at >= 0:
            end = at
            while end < len(page) and end - at < len(wanted) and page[end] == wanted[end - at]:
                end += 1
            return index[at], index[end - 1]
        if len(wanted) <= SHORTER_LOCATE:
            break
    return None


def _lines(boxes: list[Box]) -> list[Box]:
    """PDFium's boxes (one per run of one font) joined into one per line: a highlight reads as a
    band over each line rather than a patchwork."""
    out: list[Box] = []
    for box in boxes:
        last = out[-1] if out else None
        if last is not None and min(last.y + last.h, box.y + box.h) - max(last.y, box.y) > 0.5 * min(last.h, box.h):
            x, y = min(last.x, box.x), min(last.y, box.y)
            out[-1] = Box(x, y, round(max(last.x + last.w, box.x + box.w) - x, 5),
                          round(max(last.y + last.h, box.y + box.h) - y, 5))
        else:
            out.append(box)
    return out


class _Frame:
    """Maps PDF user space to fractions of the page as displayed (its crop box, turned by /Rotate)."""

    def __init__(self, page: pdfium.PdfPage) -> None:
        self.left, self.bottom, right, top = page.get_cropbox()
        self.width, self.height = max(right - self.left, 1e-6), max(top - self.bottom, 1e-6)
        self.rotation = page.get_rotation() % 360

    def _point(self, x: float, y: float) -> tuple[float, float]:
        fx, fy = (x - self.left) / self.width, 1 - (y - self.bottom) / self.height
        # /Rotate turns the page clockwise when shown.
        return {90: (1 - fy, fx), 180: (1 - fx, 1 - fy), 270: (fy, 1 - fx)}.get(self.rotation, (fx, fy))

    def box(self, rect: tuple[float, float, float, float]) -> Box | None:
        left, bottom, right, top = rect
        (x0, y0), (x1, y1) = self._point(left, top), self._point(right, bottom)
        x, y = max(0.0, min(x0, x1)), max(0.0, min(y0, y1))
        w, h = min(1.0, max(x0, x1)) - x, min(1.0, max(y0, y1)) - y
        if w <= 0 or h <= 0:
            return None
        return Box(round(x, 5), round(y, 5), round(w, 5), round(h, 5))
