"""Sniff a CSV upload's format: is it text at all, its encoding, its header line and delimiter."""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable
from functools import partial
from typing import BinaryIO

from profai.errors import UnsupportedFile

BOM = codecs.BOM_UTF8
BLOCK = 1 << 20
MAX_HEADER_BYTES = 1 << 20
DELIMITERS = (",", ";", "\t", "|")

# Checked on the first bytes, so an upload is judged by its content, not by its name.
_MAGIC = (
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (an .xlsx workbook? save it as CSV)"),
    (b"\xd0\xcf\x11\xe0", "an old Office document (an .xls workbook? save it as CSV)"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"\xff\xfe", "UTF-16 text (save it as CSV UTF-8)"),
    (b"\xfe\xff", "UTF-16 text (save it as CSV UTF-8)"),
)
_HIGH_BYTES = bytes(range(0x80, 0x100))
_REPLACEMENT = "\ufffd".encode()
_QUOTED = re.compile(r'"[^"]*"')

# cp1252 leaves 0x81 0x8D 0x8F 0x90 0x9D undefined; spreadsheets still emit them, so they
# decode as Latin-1 instead of failing. A 256-char table keeps decoding in C.
_CP1252_TABLE = "".join(bytes([b]).decode("cp1252", "ignore") or chr(b) for b in range(256))


def binary_kind(head: bytes) -> str | None:
    """Describe what the file is if its first bytes show it is not text, else None."""
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if b"\x00" in head:
        return "binary data (it contains NUL bytes)"
    return None


class EncodingJudge:
    """Judges "utf-8-sig", "utf-8" or "cp1252" from the bytes as they are written, in pieces
    of any size: a piece may end inside a UTF-8 sequence, so an incremental decoder carries it
    over and the verdict is the one a single decode of the whole file would give."""

    def __init__(self) -> None:
        self._start = b""  # the first bytes, until there are enough to see a BOM
        self._bom: bool | None = None
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._tail = b""  # the last 2 bytes seen, so a real U+FFFD cut by a piece end is counted
        self._non_ascii = self._replaced = self._real = 0
        self._verdict: str | None = None

    def feed(self, piece: bytes) -> None:
        if self._bom is None:
            self._start += piece
            if len(self._start) < len(BOM):
                return
            self._bom = self._start.startswith(BOM)
            piece, self._start = self._start, b""
        if not self._bom:
            self._count(piece)

    def verdict(self) -> str:
        """The encoding, once every piece is fed."""
        if self._verdict is None:
            if self._bom is None:  # fewer bytes than a BOM
                self._bom = False
                self._count(self._start)
            self._replaced += self._decoder.decode(b"", final=True).count("\ufffd")
            # Each invalid byte costs one replacement character; valid sequences cost none.
            invalid = self._replaced - self._real  # a real U+FFFD in the file is valid UTF-8
            self._verdict = "utf-8-sig" if self._bom else "utf-8" if invalid * 2 <= self._non_ascii else "cp1252"
        return self._verdict

    def _count(self, piece: bytes) -> None:
        # ASCII needs no decoding, unless a sequence begun in the last piece is still open.
        if not (piece.isascii() and not self._decoder.getstate()[0]):
            self._non_ascii += len(piece) - len(piece.translate(None, _HIGH_BYTES))
            self._replaced += self._decoder.decode(piece).count("\ufffd")
            # Real U+FFFDs inside the piece, and one begun in the last piece's final bytes.
            self._real += piece.count(_REPLACEMENT) + (self._tail + piece[:2]).count(_REPLACEMENT)
        self._tail = (self._tail + piece[-2:])[-2:]


def line_decoder(encoding: str) -> Callable[[bytes], str]:
    """Decoder for one data line; raises UnicodeDecodeError only for UTF-8 files."""
    if encoding == "cp1252":
        return lambda raw: codecs.charmap_decode(raw, "strict", _CP1252_TABLE)[0]
    # The BOM of a utf-8-sig file sits before the header, so data lines are plain UTF-8.
    return bytes.decode


def find_header(f: BinaryIO) -> tuple[int, bytes] | None:
    """Number and bytes (BOM removed) of the header: the first line that is not blank."""
    for lineno, raw in enumerate(iter(partial(f.readline, MAX_HEADER_BYTES), b""), 1):
        raw = raw.removeprefix(BOM) if lineno == 1 else raw
        if raw.strip():
            if len(raw) >= MAX_HEADER_BYTES - len(BOM) and not raw.endswith(b"\n"):
                raise UnsupportedFile("The first line is longer than 1 MB: not a CSV header.", code="not_a_csv")
            return lineno, raw
    return None


def sniff_delimiter(header: str) -> str:
    """The delimiter used most often outside quotes in the header line; not_a_csv if there is none."""
    if "\r" in header:
        raise UnsupportedFile("The file uses old Mac line endings (CR only); save it as CSV UTF-8.", code="not_a_csv")
    if header.lstrip()[:1] in ("{", "[", "<") or any(c < " " and c != "\t" for c in header):
        raise UnsupportedFile("The first line is not a CSV header (JSON, XML or HTML?).", code="not_a_csv")
    unquoted = _QUOTED.sub("", header)
    delimiter = max(DELIMITERS, key=unquoted.count)  # ties go to the earlier, more common delimiter
    if not unquoted.count(delimiter):
        raise UnsupportedFile("The first line has no comma, semicolon, tab or | between columns.", code="not_a_csv")
    return delimiter
