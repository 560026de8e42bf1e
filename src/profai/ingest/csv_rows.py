"""Stream a CSV export into rows and row-level errors, with exact line numbers and flat memory."""

from __future__ import annotations

import csv
import os
import shutil
import sqlite3
import string
import tempfile
from collections import deque
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from profai.errors import InvalidInput, listing, snippet
from profai.ingest.csv_encoding import BLOCK, MAX_HEADER_BYTES, find_header, line_decoder
from profai.ingest.csv_scan import CsvHeader, CsvScan

MAX_RECORD_LINES = 50  # a quoted field still open after this many lines is a stray quote
AVAILABLE_LISTED = 20  # columns named in a missing-column error
_BATCH = 1000  # ids checked against SQLite per transaction


@dataclass(frozen=True)
class CsvSpec:
    id_column: str
    text_columns: tuple[str, ...] = ()  # joined with "\n" (skipping blank cells) when there is no template
    text_template: str | None = None  # "{title}: {description}", field names are column names
    metadata_columns: tuple[str, ...] = ()
    max_field_chars: int = 20_000


@dataclass(frozen=True, slots=True)
class Row:
    line: int  # physical line (1-based, header is line 1) where the record starts
    id: str
    text: str
    metadata: dict[str, str]


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    row_id: str | None
    code: str  # empty_id, empty_text, duplicate_id, unbalanced_quotes, field_too_large, undecodable_bytes, wrong_field_count
    reason: str


def read_header(path: Path) -> CsvHeader:
    """Check the file is a CSV with a usable header and data; sniff its encoding and delimiter.
    Uploads learn this as the file is written (CsvScan); this reads a stored file the same way,
    for jobs queued before the header was recorded in their payload."""
    scan = CsvScan()
    with Path(path).open("rb") as f:
        while block := f.read(BLOCK):
            scan.feed(block)
    return scan.header()


def validate_spec(header: CsvHeader, spec: CsvSpec) -> None:
    """Raise InvalidInput unless every column the spec names exists in the header. The message
    names what is missing and the columns there are, each clipped, the list cut short."""
    columns = set(header.columns)

    def missing(names: Sequence[str], code: str, what: str) -> None:
        absent = [n for n in names if n not in columns]
        if absent:
            available = listing(list(header.columns), AVAILABLE_LISTED)
            raise InvalidInput(f"{what} {listing(absent)} not in the CSV header; available columns: {available}",
                               code=code)

    missing([spec.id_column], "missing_id_column", "id column")
    if spec.text_template is not None:
        missing(_template_fields(spec.text_template), "unknown_template_columns", "text_template names")
    elif not spec.text_columns:
        raise InvalidInput(
            "Give text_columns or a text_template to build each row's text.", code="missing_text_columns"
        )
    else:
        missing(spec.text_columns, "missing_text_columns", "text columns")
    missing(spec.metadata_columns, "missing_metadata_columns", "metadata columns")


def read_rows(
    path: Path, spec: CsvSpec, header: CsvHeader | None = None, *, work_dir: Path | None = None
) -> Iterator[Row | RowError]:
    """Yield rows and row errors in file order; file-level problems raise here, before iteration."""
    path = Path(path)
    header = header or read_header(path)
    validate_spec(header, spec)
    # A line this long must hold an oversized field (UTF-8 is at most 4 bytes a char and quoting
    # at most doubles a field); the cap keeps one endless line from exhausting memory.
    max_line_bytes = max(MAX_HEADER_BYTES, 8 * len(header.columns) * (spec.max_field_chars + 2))
    if csv.field_size_limit() <= spec.max_field_chars:
        csv.field_size_limit(spec.max_field_chars + 1)  # so the csv module never rejects a field we accept
    return _dedupe(_rows(path, spec, header, max_line_bytes), work_dir)


def count_data_lines(path: Path) -> int:
    """Physical lines after the header (an upper bound on data rows), for progress reporting.
    Uploads count them as the file is written (CsvHeader.data_lines); this full read is for jobs
    queued before that."""
    lines = 0
    last = b"\n"
    with open(path, "rb") as f:
        while block := f.read(BLOCK):
            lines += block.count(b"\n")
            last = block[-1:]
    return max(0, lines + (last != b"\n") - 1)


def _template_fields(template: str) -> list[str]:
    """Column names a template refers to, in order; raises invalid_template on bad syntax."""
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise InvalidInput(f"text_template is not a valid template: {exc}.", code="invalid_template") from exc
    names = [name for _, name, _, _ in parts if name is not None]
    # Plain {column} fields only: a format spec or conversion could fail on some row's value.
    if not names or "" in names or any(spec or conv for _, name, spec, conv in parts if name is not None):
        raise InvalidInput("text_template must name columns, like '{title}: {description}'.", code="invalid_template")
    return names


def _text_builder(spec: CsvSpec, columns: tuple[str, ...]) -> Callable[[list[str]], str]:
    """A function from a row's fields to its stripped text; "" when every text cell is blank."""
    if spec.text_template is None:
        idx = [columns.index(c) for c in spec.text_columns]
        return lambda fields: "\n".join([v for v in [fields[i].strip() for i in idx] if v])
    # Compiled once so each row costs a join, and a column name may hold "." or "[" freely.
    pieces = [
        (literal, None if name is None else columns.index(name))
        for literal, name, _, _ in string.Formatter().parse(spec.text_template)
    ]
    used = [i for _, i in pieces if i is not None]

    def build(fields: list[str]) -> str:
        if not any(fields[i].strip() for i in used):
            return ""
        return "".join(literal + ("" if i is None else fields[i].strip()) for literal, i in pieces).strip()

    return build


class _Runaway(Exception):
    """A record's quotes stay open too long or to the end of the file."""


class _Oversized(Exception):
    """A physical line longer than any valid row could be."""


class _Lines:
    """Numbered physical lines fed to csv.reader, remembering the current record so it can be replayed."""

    def __init__(self, f: BinaryIO, encoding: str, first_line: int, max_line_bytes: int, max_record_chars: int):
        self._readline = f.readline
        self._decode = line_decoder(encoding)
        self._next_line = first_line
        self._max_bytes = max_line_bytes
        self._max_chars = max_record_chars
        self._pending: deque[tuple[int, bytes | None]] = deque()  # replayed lines; None marks an oversized one
        self.start_record()

    def start_record(self) -> None:
        self.record: list[tuple[int, bytes | None]] = []
        self.chars = 0
        self.bad_line: int | None = None

    def replay_after_start(self) -> None:
        """Resynchronise at the line after the record's first, so a stray quote costs one row."""
        self._pending.extendleft(reversed(self.record[1:]))

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        record = self.record
        if record and len(record) >= MAX_RECORD_LINES:
            raise _Runaway(f"a quoted field is still open after {MAX_RECORD_LINES} lines")
        if record and self.chars > self._max_chars:
            raise _Runaway(f"a quoted field is still open after {self.chars} characters")
        if self._pending:
            lineno, raw = self._pending.popleft()
        else:
            raw = self._readline(self._max_bytes)
            if not raw:
                if record:
                    raise _Runaway("a quoted field is never closed before the end of the file")
                raise StopIteration
            lineno = self._next_line
            self._next_line += 1
            if len(raw) == self._max_bytes and not raw.endswith(b"\n"):
                while (rest := self._readline(self._max_bytes)) and not rest.endswith(b"\n"):
                    pass  # skip the rest of the line without holding it
                raw = None
        if raw is None:
            if record:  # the record in progress is the real problem: see this line again after it
                self._pending.appendleft((lineno, None))
                raise _Runaway(f"a quoted field runs into line {lineno}, which is far too long")
            record.append((lineno, None))
            raise _Oversized
        record.append((lineno, raw))
        try:
            text = self._decode(raw)
        except UnicodeDecodeError:
            text = raw.decode("utf-8", "replace")  # only UTF-8 decoding can fail
            if self.bad_line is None:
                self.bad_line = lineno
        self.chars += len(text)
        return text


def _rows(
    path: Path, spec: CsvSpec, header: CsvHeader, max_line_bytes: int
) -> Generator[Row | RowError, None, None]:
    """Rows and row errors in file order, before duplicate ids are looked for."""
    columns = header.columns
    metadata = [(c, columns.index(c)) for c in spec.metadata_columns]
    build_text = _text_builder(spec, columns)
    with path.open("rb") as f:
        found = find_header(f)
        if found is None:  # the header was read before: the file has been emptied since
            raise InvalidInput("The file is empty.", code="empty_file")
        first_line = found[0] + 1
        lines = _Lines(f, header.encoding, first_line, max_line_bytes, 2 * spec.max_field_chars)
        for record in _records(lines, header, columns.index(spec.id_column), spec.max_field_chars):
            if isinstance(record, RowError):
                yield record
                continue
            line, fields, row_id = record
            if not row_id:
                if any(v.strip() for v in fields):  # a row of empty cells is a blank line, not an error
                    yield RowError(line, None, "empty_id", f"column {snippet(spec.id_column)} is empty")
            elif not (text := build_text(fields)):
                yield RowError(line, row_id, "empty_text", "the text columns are empty")
            else:
                yield Row(line, row_id, text, {c: fields[i] for c, i in metadata})


def _records(
    lines: _Lines, header: CsvHeader, id_at: int, limit: int
) -> Iterator[tuple[int, list[str], str] | RowError]:
    """(line, fields, stripped id) of each well-formed record, or its RowError; blank lines are skipped."""
    columns = header.columns
    reader = csv.reader(lines, delimiter=header.delimiter)
    while True:
        lines.start_record()
        try:
            fields = next(reader)
        except StopIteration:
            return
        except (_Oversized, _Runaway, csv.Error) as exc:
            yield _broken(lines, exc, limit)
            continue
        line = lines.record[0][0]
        if len(fields) != len(columns):
            if any(v.strip() for v in fields):  # else a blank line
                yield _broken(lines, f"{len(fields)} fields, the header has {len(columns)}", limit)
            continue
        row_id = fields[id_at].strip()
        if lines.bad_line is not None:
            yield RowError(line, row_id or None, "undecodable_bytes", f"line {lines.bad_line} is not valid UTF-8")
        elif lines.chars > limit and (too_long := [c for c, v in zip(columns, fields) if len(v) > limit]):
            yield RowError(line, row_id or None, "field_too_large",
                           f"{snippet(too_long[0])} is over {limit} characters")
        else:
            yield line, fields, row_id


def _broken(lines: _Lines, problem: _Oversized | _Runaway | csv.Error | str, limit: int) -> RowError:
    """The error for a record that does not split into the header's fields."""
    line = lines.record[0][0]
    if isinstance(problem, _Oversized):
        return RowError(line, None, "field_too_large", "the line is far longer than any valid row")
    if isinstance(problem, _Runaway) or len(lines.record) > 1:
        # A quote opened on this line swallowed the next ones: read those again as rows of their own.
        end = lines.record[-1][0]
        lines.replay_after_start()
        return RowError(line, None, "unbalanced_quotes",
                        f"unbalanced quotes over lines {line}-{end}: {_in_our_words(problem)}")
    if not isinstance(problem, csv.Error):
        return RowError(line, None, "wrong_field_count", problem)
    if "field larger" in str(problem):  # read_rows set the csv module's limit above ours
        return RowError(line, None, "field_too_large", f"a field is over {limit} characters")
    return RowError(line, None, "wrong_field_count", f"the line cannot be split into fields: {_in_our_words(problem)}")


def _in_our_words(problem: _Runaway | csv.Error | str) -> str:
    """A reason a user can act on: the csv module's messages describe its parser, not the file."""
    if not isinstance(problem, csv.Error):
        return str(problem)
    if "new-line" in str(problem):  # the only other error of a lenient reader fed whole lines
        return "a field that is not quoted holds a carriage return (\\r)"
    return "a quote is not closed, or text follows a closing quote"


class _SeenIds:
    """First line of every id, in a throwaway on-disk SQLite table so memory stays flat for millions of ids."""

    def __init__(self, work_dir: Path | None):
        if work_dir is not None:
            os.makedirs(work_dir, exist_ok=True)
        self._dir = tempfile.mkdtemp(prefix="csv-ids-", dir=work_dir)
        self._db = sqlite3.connect(os.path.join(self._dir, "ids.sqlite"), isolation_level=None)
        # Throwaway data: no journal, no fsync; a 4 MB page cache keeps RSS flat.
        for pragma in ("journal_mode = OFF", "synchronous = OFF", "cache_size = -4096", "locking_mode = EXCLUSIVE"):
            self._db.execute(f"PRAGMA {pragma}")
        self._db.execute("CREATE TABLE seen (id TEXT PRIMARY KEY, line INTEGER NOT NULL) WITHOUT ROWID")

    def add(self, rows: list[Row]) -> dict[int, int]:
        """Record the rows' ids; return {line: first line} for rows whose id came earlier."""
        self._db.execute("BEGIN")
        inserted = self._db.executemany(
            "INSERT OR IGNORE INTO seen VALUES (?, ?)", [(r.id, r.line) for r in rows]
        ).rowcount
        self._db.execute("COMMIT")
        if inserted == len(rows):
            return {}  # the usual case: no duplicates, no lookup
        first: dict[int, int] = {}
        for start in range(0, len(rows), 500):  # stay under SQLite's bound-parameter limit
            chunk = rows[start : start + 500]
            marks = ",".join("?" * len(chunk))
            stored = dict(self._db.execute(f"SELECT id, line FROM seen WHERE id IN ({marks})", [r.id for r in chunk]))
            first.update((r.line, stored[r.id]) for r in chunk if stored[r.id] != r.line)
        return first

    def close(self) -> None:
        self._db.close()
        shutil.rmtree(self._dir, ignore_errors=True)


def _dedupe(items: Generator[Row | RowError, None, None], work_dir: Path | None) -> Iterator[Row | RowError]:
    """Keep each id's first row; report later ones as duplicate_id, in batches to keep SQLite fast."""
    seen = _SeenIds(work_dir)
    try:
        batch: list[Row | RowError] = []
        for item in items:
            batch.append(item)
            if len(batch) >= _BATCH:
                yield from _checked(batch, seen)
                batch = []
        yield from _checked(batch, seen)
    finally:
        items.close()
        seen.close()


def _checked(batch: list[Row | RowError], seen: _SeenIds) -> Iterator[Row | RowError]:
    first = seen.add([item for item in batch if type(item) is Row])
    for item in batch:
        if type(item) is Row and item.line in first:
            yield RowError(
                item.line, item.id, "duplicate_id",
                f"duplicate id {snippet(item.id)} (first seen on line {first[item.line]})"
            )
        else:
            yield item
