"""Everything an upload needs to know about a CSV, learned from the pieces the blob store writes:
what the file is, its encoding, header and delimiter, how many lines follow the header, and its
sha256. Judging it while it is written means the upload never reads the file again."""

from __future__ import annotations

import csv
import hashlib
from collections import Counter
from dataclasses import dataclass
from typing import Any

from profai.errors import InvalidInput, UnsupportedFile, listing
from profai.ingest.csv_encoding import BOM, MAX_HEADER_BYTES, EncodingJudge, binary_kind, line_decoder, sniff_delimiter

HEAD_BYTES = 8192  # the first bytes binary_kind looks at
# Columns a header may have (MAX_CSV_COLUMNS): a 1 MB header line could name half a million, and
# every row would then be split into as many fields.
MAX_COLUMNS = 1000


@dataclass(frozen=True)
class CsvHeader:
    columns: tuple[str, ...]
    encoding: str  # "utf-8", "utf-8-sig" or "cp1252"
    delimiter: str  # one of , ; \t |
    # Physical lines after the header (an upper bound on data rows, for progress), counted as
    # the file was written. None in the payloads of jobs queued before it was: count_data_lines.
    data_lines: int | None = None


class CsvScan:
    """Fed each piece of a CSV as it is written (on the blob store's disk thread); then facts()
    gives {"header": CsvHeader, "sha256": hex digest}, or raises to refuse a file that is not a
    usable CSV, with the codes read_header has always used."""

    def __init__(self, max_columns: int = MAX_COLUMNS) -> None:
        self.max_columns = max_columns
        self._sha256 = hashlib.sha256()
        self._encoding = EncodingJudge()
        self._head = b""
        self._header = _HeaderLine()
        self._newlines = 0
        self._last = b"\n"  # an empty file has no lines, as if it ended on a newline

    def feed(self, piece: bytes) -> None:
        if not piece:
            return
        self._sha256.update(piece)
        self._encoding.feed(piece)
        if len(self._head) < HEAD_BYTES:
            self._head += piece[: HEAD_BYTES - len(self._head)]
        self._header.feed(piece)
        self._newlines += piece.count(b"\n")
        self._last = piece[-1:]

    def header(self) -> CsvHeader:
        """The file's header once every piece is fed; refuses it in the order read_header did."""
        kind = binary_kind(self._head)
        if kind:
            raise UnsupportedFile(f"The file is {kind}, not a CSV file.", code="not_a_csv")
        encoding = self._encoding.verdict()
        raw = self._header.line()
        columns, delimiter = parse_header(
            raw.decode("utf-8", "replace") if "utf" in encoding else line_decoder(encoding)(raw), self.max_columns
        )
        if not self._header.data_follows:
            raise InvalidInput("The file has a header but no data rows.", code="header_only")
        data_lines = max(0, self._newlines + (self._last != b"\n") - 1)
        return CsvHeader(columns=columns, encoding=encoding, delimiter=delimiter, data_lines=data_lines)

    def facts(self) -> dict[str, Any]:
        return {"header": self.header(), "sha256": self._sha256.hexdigest()}


class _HeaderLine:
    """find_header on pieces: lines are cut as readline(MAX_HEADER_BYTES) cuts them, so a blank
    line or an overlong header is judged the same; after the header, only whether a byte that is
    not whitespace follows matters (the "no data rows" check)."""

    def __init__(self) -> None:
        self._pending = bytearray()  # bytes not yet cut into a line
        self._searched = 0  # how much of _pending is known to hold no newline
        self._lineno = 0
        self._raw: bytes | None = None
        self.data_follows = False

    def feed(self, piece: bytes) -> None:
        if self._raw is None:
            self._pending += piece
            self._cut(final=False)
        elif not self.data_follows:
            self.data_follows = bool(piece.strip())

    def line(self) -> bytes:
        """The header's bytes (BOM removed), once the whole file is fed."""
        if self._raw is None:
            self._cut(final=True)
        if self._raw is None:
            raise InvalidInput("The file is empty.", code="empty_file")
        if len(self._raw) >= MAX_HEADER_BYTES - len(BOM) and not self._raw.endswith(b"\n"):
            raise UnsupportedFile("The first line is longer than 1 MB: not a CSV header.", code="not_a_csv")
        return self._raw

    def _cut(self, final: bool) -> None:
        while self._raw is None:
            end = self._pending.find(b"\n", self._searched, MAX_HEADER_BYTES)
            if end >= 0:
                end += 1
            elif len(self._pending) >= MAX_HEADER_BYTES or (final and self._pending):
                end = min(len(self._pending), MAX_HEADER_BYTES)
            else:  # wait for the rest of the line
                self._searched = len(self._pending)
                return
            raw = bytes(self._pending[:end])
            del self._pending[:end]
            self._searched = 0
            self._lineno += 1
            raw = raw.removeprefix(BOM) if self._lineno == 1 else raw
            if raw.strip():
                self._raw = raw
        self.data_follows = bool(self._pending.strip())  # what came with the header's last piece
        self._pending = bytearray()


def parse_header(text: str, max_columns: int = MAX_COLUMNS) -> tuple[tuple[str, ...], str]:
    """Columns and delimiter of the header line; not_a_csv, too_many_columns or bad_header if it
    is not usable. Linear in the line's length: a header of a megabyte is judged at once."""
    text = text.rstrip("\r\n")
    delimiter = sniff_delimiter(text)
    try:
        cells = next(csv.reader([text], delimiter=delimiter, strict=True))
    except csv.Error:
        # In our words: the csv module's describe its parser, not the file.
        raise InvalidInput("The header line cannot be split into columns: a quote is not closed, or a "
                           "column name is far too long.", code="bad_header") from None
    if len(cells) > max_columns:
        raise InvalidInput(f"The header has {len(cells):,} columns; at most {max_columns:,} are accepted.",
                           code="too_many_columns")
    columns = tuple(c.strip() for c in cells)
    blank = [str(i) for i, c in enumerate(columns, 1) if not c]
    if blank:
        more = f" and {len(blank) - 10} more" if len(blank) > 10 else ""
        raise InvalidInput(f"Header column(s) {', '.join(blank[:10])}{more} have no name.", code="bad_header")
    dupes = sorted(c for c, n in Counter(columns).items() if n > 1)
    if dupes:
        raise InvalidInput(f"Header repeats column name(s) {listing(dupes)}.", code="bad_header")
    return columns, delimiter
