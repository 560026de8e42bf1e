"""How much reading one PDF may cost, and the errors for a file past it.

A PDF of a few hundred KB can hold content that decompresses to gigabytes (a "text bomb"),
claim 20,000 pages, or draw a page from a million text objects; PDFium would spend minutes and
gigabytes on it in a single call. Reading checks, cheapest first: the page count and every
page's dictionary (at upload, too), the decompressed size of the file's streams (at upload, too),
then per page its object count, its characters against what is left of the file's budget, and
the seconds it took. A single PDFium call that still runs away is stopped from outside: the
compute pool reads PDFs in processes it watches (pipelines/compute.py)."""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from mmap import mmap

from profai.errors import InvalidInput, PayloadTooLarge, ProfAIError
from profai.settings import Settings

MB = 1024 * 1024
# A stream may hold an eighth of the whole budget: real content streams are under 1 MB (R's
# 2,400-page reference manual peaks at 0.3 MB), and a bomb is usually one huge stream.
STREAM_SHARE = 8
# Top-level objects a page may have before its text is read: a dense page of per-glyph text has
# ~10,000; building the text of 100,000 takes PDFium ~1 s and ~500 MB.
MAX_PAGE_OBJECTS = 100_000

_STREAM_RE = re.compile(rb"(?<!end)stream(?:\r\n|\n|\r)")
_IMAGE_RE = re.compile(rb"/Subtype\s*/Image\b")
_DICT_LOOKBACK = 4096  # how far before `stream` its dictionary is looked for
_IN_PIECE = 64 * 1024
_OUT_PIECE = 1 << 20


@dataclass(frozen=True)
class PdfLimits:
    max_pages: int = 2000
    max_chars: int = 20_000_000
    max_inflated_bytes: int = 256 * MB
    page_seconds: float = 10.0
    max_page_objects: int = MAX_PAGE_OBJECTS

    @classmethod
    def from_settings(cls, s: Settings) -> PdfLimits:
        return cls(max_pages=s.max_pdf_pages, max_chars=s.max_pdf_chars,
                   max_inflated_bytes=int(s.max_pdf_inflated_mb * MB), page_seconds=s.pdf_page_seconds)

    @property
    def max_stream_bytes(self) -> int:
        return max(1, self.max_inflated_bytes // STREAM_SHARE)


def check_page_count(count: int, limits: PdfLimits) -> None:
    if count > limits.max_pages:
        raise PayloadTooLarge(f"The PDF has {count:,} pages; at most {limits.max_pages:,} can be read. "
                              "Split it and upload the parts you need.", code="too_many_pages")


def too_large(reason: str) -> ProfAIError:
    return PayloadTooLarge(f"The PDF is too large to read: {reason}. Split it, or print the pages you need "
                           "to a new PDF, and upload that.", code="pdf_too_large")


def too_slow(page: int, limits: PdfLimits) -> ProfAIError:
    return InvalidInput(f"Page {page} of the PDF took more than {limits.page_seconds:g} s to read, so reading "
                        "stopped; the page may be damaged or built to be slow. Print it to a new PDF and upload "
                        "that.", code="pdf_too_slow")


def stalled(after_page: int, limits: PdfLimits) -> ProfAIError:
    """A watched reader that reported no progress in time (it reports every page read, cleaned
    and cut into passages, so `after_page` is the last page it read)."""
    where = f"after page {after_page}" if after_page else "on its first page"
    return InvalidInput(f"Reading the PDF made no progress for {limits.page_seconds:g} s ({where}), so it was "
                        "stopped; a page may be damaged or built to be slow. Print the PDF to a new file and "
                        "upload that.", code="pdf_too_slow")


def too_much_memory(limit_mb: float) -> ProfAIError:
    return too_large(f"reading it needed more than {limit_mb:g} MB of memory")


def check_inflated(data: bytes | mmap, limits: PdfLimits) -> None:
    """Refuse a PDF whose streams decompress past the limits, counted without keeping any of it.
    Every Flate stream but images (not decoded to read text) counts: page content, forms, fonts,
    object streams. Streams in other or chained filters, or encrypted ones, are not seen here:
    the per-page limits and the watched reader processes bound those."""
    left = limits.max_inflated_bytes
    at = 0
    while (found := _STREAM_RE.search(data, at)) is not None:
        at = found.end()
        head = data[max(0, found.start() - _DICT_LOOKBACK):found.start()]
        if _IMAGE_RE.search(head[head.rfind(b"obj") + 1:]):
            continue
        size = _inflated_size(data, at, min(left, limits.max_stream_bytes) + 1)
        if size > limits.max_stream_bytes:
            raise too_large(f"one of its streams decompresses to more than {limits.max_stream_bytes / MB:g} MB")
        left -= size
        if left < 0:
            raise too_large(f"its content decompresses to more than {limits.max_inflated_bytes / MB:g} MB")


def _inflated_size(data: bytes | mmap, start: int, stop_at: int) -> int:
    """Bytes the Flate stream at `start` decompresses to, counting no further than `stop_at`;
    0 when it is not Flate data (the decoder refuses the first bytes)."""
    decoder = zlib.decompressobj()
    size, at = 0, start
    try:
        while not decoder.eof and size < stop_at:
            piece = decoder.unconsumed_tail
            if not piece:
                if at >= len(data):
                    break
                piece, at = data[at:at + _IN_PIECE], at + _IN_PIECE
            size += len(decoder.decompress(piece, _OUT_PIECE))
    except zlib.error:
        pass  # not Flate, or damaged part-way: PDFium stops where the data does, and so do we
    return size
