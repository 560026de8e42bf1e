"""Streaming CSV rows: header checks, spec validation, encodings, parsing rules, duplicates and memory."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path

import pytest

from profai.errors import InvalidInput, UnsupportedFile
from profai.ingest.csv_rows import (
    CsvHeader,
    CsvSpec,
    Row,
    RowError,
    count_data_lines,
    read_header,
    read_rows,
    validate_spec,
)
from profai.ingest.csv_scan import CsvScan

SPEC = CsvSpec(id_column="id", text_columns=("text",))


def write(tmp_path: Path, content: str | bytes, encoding: str = "utf-8", name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode(encoding))
    return path


def read(path: Path, spec: CsvSpec = SPEC, **kwargs) -> list[Row | RowError]:
    return list(read_rows(path, spec, **kwargs))


def rows(items: list[Row | RowError]) -> list[Row]:
    return [i for i in items if isinstance(i, Row)]


def errors(items: list[Row | RowError]) -> list[tuple[int, str]]:
    return [(i.line, i.code) for i in items if isinstance(i, RowError)]


def header_code(path: Path) -> str:
    with pytest.raises((InvalidInput, UnsupportedFile)) as err:
        read_header(path)
    return err.value.code


# --- read_header ---------------------------------------------------------------------------------


@pytest.mark.parametrize("content", [b"", b"  \n\r\n\t \n", b"\xef\xbb\xbf\n"])
def test_empty_file(tmp_path, content):
    assert header_code(write(tmp_path, content)) == "empty_file"


@pytest.mark.parametrize(
    "content",
    [
        b"%PDF-1.7\n1 0 obj\n",
        b"PK\x03\x04\x14\x00\x06\x00",
        b"\x89PNG\r\n\x1a\n\x00\x00",
        b"id,text\n1,a\x00b\n",
        "id,text\n1,hello\n".encode("utf-16"),
        b"Just some prose without any separators\nand a second line\n",
        b'{"id": 1, "text": "json"}\n',
        b"<!DOCTYPE html><html lang=en>\n<body>,</body>\n",
        b"id,text\r1,old mac line endings\r",
    ],
)
def test_not_a_csv_is_judged_by_content(tmp_path, content):
    assert header_code(write(tmp_path, content, name="looks_fine.csv")) == "not_a_csv"


def test_header_only(tmp_path):
    assert header_code(write(tmp_path, "id,text\n\n  \n")) == "header_only"


@pytest.mark.parametrize("first_line", ["id,text,id", "id,,text", "id, text ,text"])
def test_bad_header(tmp_path, first_line):
    assert header_code(write(tmp_path, f"{first_line}\n1,a,b\n")) == "bad_header"


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiter_is_sniffed_from_the_header(tmp_path, delimiter):
    header = read_header(write(tmp_path, f'"id"{delimiter} text {delimiter}"a, b"\n1{delimiter}x{delimiter}y\n'))
    assert header == CsvHeader(columns=("id", "text", "a, b"), encoding="utf-8", delimiter=delimiter, data_lines=1)


# --- validate_spec -------------------------------------------------------------------------------

HEADER = CsvHeader(columns=("id", "title", "body", "lang"), encoding="utf-8", delimiter=",")


@pytest.mark.parametrize(
    ("spec", "code"),
    [
        (CsvSpec("sku", ("body",)), "missing_id_column"),
        (CsvSpec("id"), "missing_text_columns"),
        (CsvSpec("id", ("body", "summary")), "missing_text_columns"),
        (CsvSpec("id", text_template="{title}: {summary}"), "unknown_template_columns"),
        (CsvSpec("id", text_template="{title: {body}"), "invalid_template"),
        (CsvSpec("id", text_template="{}"), "invalid_template"),
        (CsvSpec("id", text_template="no fields at all"), "invalid_template"),
        (CsvSpec("id", text_template="{title:>40}"), "invalid_template"),
        (CsvSpec("id", ("body",), metadata_columns=("lang", "author")), "missing_metadata_columns"),
    ],
)
def test_validate_spec_errors(spec, code):
    with pytest.raises(InvalidInput) as err:
        validate_spec(HEADER, spec)
    assert err.value.code == code


def test_missing_id_column_names_it_and_lists_the_available_ones():
    with pytest.raises(InvalidInput) as err:
        validate_spec(HEADER, CsvSpec("sku", ("body",)))
    assert "'sku'" in err.value.message
    assert all(f"'{c}'" in err.value.message for c in HEADER.columns)


def test_valid_specs_pass(tmp_path):
    by_columns = CsvSpec("id", ("title", "body"), metadata_columns=("lang",))
    by_template = CsvSpec("id", text_template="{title}: {body} {{literal}}")
    validate_spec(HEADER, by_columns)
    validate_spec(HEADER, by_template)
    # Passing means the rows of such a file are built from the columns the specs name.
    path = write(tmp_path, "id,title,body,lang\n1,Vectors,Lists of numbers.,en\n")
    assert read(path, by_columns) == [Row(2, "1", "Vectors\nLists of numbers.", {"lang": "en"})]
    assert read(path, by_template) == [Row(2, "1", "Vectors: Lists of numbers. {literal}", {})]


def test_read_rows_checks_the_spec_before_iterating(tmp_path):
    path = write(tmp_path, "id,text\n1,a\n")
    with pytest.raises(InvalidInput) as err:
        read_rows(path, CsvSpec("sku", ("text",)))
    assert err.value.code == "missing_id_column"


# --- encodings -----------------------------------------------------------------------------------

ACCENTS = "Café über 5 € “smart quotes” naïve"


@pytest.mark.parametrize(
    ("encoding", "detected"), [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("cp1252", "cp1252")]
)
def test_encodings_are_detected_and_decoded(tmp_path, encoding, detected):
    path = write(tmp_path, f"id,text\n1,{ACCENTS}\n2,plain\n3,Ünïcode ‘again’\n", encoding=encoding)
    header = read_header(path)
    assert header.encoding == detected
    assert header.columns == ("id", "text")  # no BOM left in the first column name
    assert [r.text for r in read(path)] == [ACCENTS, "plain", "Ünïcode ‘again’"]


def test_cp1252_undefined_bytes_decode_as_latin1(tmp_path):
    path = write(tmp_path, b"id,text\n1,caf\xe9 \x81\x8d\x8f\x90\x9d\n")
    assert read_header(path).encoding == "cp1252"
    assert [r.text for r in read(path)] == ["café \x81\x8d\x8f\x90\x9d"]


def test_invalid_bytes_in_a_utf8_file_cost_one_row(tmp_path):
    good = "".join(f"{i},Grüße {i}\n" for i in range(2, 12))
    path = write(tmp_path, b"id,text\n" + good.encode() + b"12,bad \xe9 byte\n13,fine\n")
    assert read_header(path).encoding == "utf-8"
    items = read(path)
    assert errors(items) == [(12, "undecodable_bytes")]
    assert items[10].row_id == "12"
    assert [r.line for r in rows(items)] == [*range(2, 12), 13]


# --- parsing rules -------------------------------------------------------------------------------


def test_newlines_inside_quotes_keep_line_numbers_exact(tmp_path):
    path = write(tmp_path, 'id,text\n1,"first\nsecond\n\nfourth"\n2,next\r\n3,"a ""quoted"" word"\n')
    items = read(path)
    assert [(r.line, r.id, r.text) for r in items] == [
        (2, "1", "first\nsecond\n\nfourth"),
        (6, "2", "next"),
        (7, "3", 'a "quoted" word'),
    ]


def test_a_stray_quote_costs_exactly_one_row(tmp_path):
    path = write(tmp_path, 'id,text,tag\n1,good,a\n2,"broken text,b\n3,fine,c\n4,"quoted, ok",d\n5,last,e\n')
    items = read(path, CsvSpec("id", ("text",)))
    assert errors(items) == [(3, "unbalanced_quotes")]
    assert [(r.line, r.id) for r in rows(items)] == [(2, "1"), (4, "3"), (5, "4"), (6, "5")]


def test_a_quote_left_open_to_the_end_of_file_costs_one_row(tmp_path):
    path = write(tmp_path, 'id,text\n1,"never closed\n' + "".join(f"{i},row {i}\n" for i in range(2, 10)))
    items = read(path)
    assert errors(items) == [(2, "unbalanced_quotes")]
    assert [r.line for r in rows(items)] == list(range(3, 11))


def test_a_quoted_field_over_50_lines_is_unbalanced(tmp_path):
    short = '1,"' + "line\n" * 10 + '"\n'
    long = '2,"' + "line\n" * 60 + '"\n'
    items = read(write(tmp_path, "id,text\n" + short + long))
    assert items[0] == Row(2, "1", "line\n" * 9 + "line", {})
    assert items[1].line == 13 and items[1].code == "unbalanced_quotes"


def test_a_quoted_field_over_twice_the_size_limit_is_unbalanced(tmp_path):
    spec = CsvSpec("id", ("text",), max_field_chars=10)
    items = read(write(tmp_path, 'id,text\n1,"' + "x" * 30 + "\n" + "y" * 30 + '"\n2,ok\n'), spec)
    assert errors(items)[0] == (2, "unbalanced_quotes")
    assert Row(4, "2", "ok", {}) in items


def test_wrong_field_count_and_blank_lines(tmp_path):
    path = write(tmp_path, "id,text\n1,a\n\n2,b,extra\n3\n  \n,,\n4,d\n\n")
    items = read(path)
    assert errors(items) == [(4, "wrong_field_count"), (5, "wrong_field_count")]
    assert [r.line for r in rows(items)] == [2, 8]


def test_ids_are_stripped_and_empty_ids_and_texts_reported(tmp_path):
    path = write(tmp_path, "id,title,body\n  A1  ,t,b\n   ,t,b\nA2, , \n")
    items = read(path, CsvSpec("id", ("title", "body")))
    assert items[0] == Row(2, "A1", "t\nb", {})
    assert items[1] == RowError(3, None, "empty_id", "column 'id' is empty")
    assert (items[2].line, items[2].row_id, items[2].code) == (4, "A2", "empty_text")


def test_field_too_large(tmp_path):
    spec = CsvSpec("id", ("text",), max_field_chars=10)
    items = read(write(tmp_path, "id,text\n1,short\n2," + "x" * 11 + "\n3,also short\n"), spec)
    assert errors(items) == [(3, "field_too_large")]
    assert items[1].row_id == "2"


def test_an_endless_line_is_skipped_without_holding_it(tmp_path):
    spec = CsvSpec("id", ("text",), max_field_chars=10)
    path = write(tmp_path, "id,text\n1,a\n2," + "x" * 1_500_000 + "\n3,b\n")
    items = read(path, spec)
    assert errors(items) == [(3, "field_too_large")]
    assert [r.line for r in rows(items)] == [2, 4]


def test_a_field_beyond_the_csv_module_limit(tmp_path):
    items = read(write(tmp_path, "id,text\n1," + "x" * 140_000 + "\n2,b\n"))
    assert errors(items) == [(2, "field_too_large")]


def test_an_open_quote_running_into_an_endless_line(tmp_path):
    spec = CsvSpec("id", ("text",), max_field_chars=10)
    items = read(write(tmp_path, 'id,text\n1,"open\n2,' + "x" * 1_500_000 + "\n3,b\n"), spec)
    assert errors(items) == [(2, "unbalanced_quotes"), (3, "field_too_large")]
    assert [r.line for r in rows(items)] == [4]


def test_a_lone_carriage_return_costs_one_row(tmp_path):
    items = read(write(tmp_path, 'id,text\n1,a\rb\n2,"c\rd"\n3,e\r\n'))
    assert errors(items) == [(2, "wrong_field_count")]
    assert [r.text for r in rows(items)] == ["c\rd", "e"]


def test_duplicate_ids_keep_the_first_and_report_later_ones(tmp_path):
    # 2,500 rows span several SQLite batches; duplicates fall both within and across batches.
    lines = [f"id{i},text {i}" for i in range(2500)]
    lines[5] = "id1,again in the same batch"
    lines[2400] = "id3,again in a later batch"
    lines[2401] = " id3 ,and again"
    items = read(write(tmp_path, "id,text\n" + "\n".join(lines) + "\n"))
    assert errors(items) == [(7, "duplicate_id"), (2402, "duplicate_id"), (2403, "duplicate_id")]
    assert items[5].reason == "duplicate id 'id1' (first seen on line 3)"
    assert items[2401].reason == "duplicate id 'id3' (first seen on line 5)"
    assert len(rows(items)) == 2497
    assert [i.line for i in items] == list(range(2, 2502))


def test_an_id_first_seen_on_a_bad_row_is_kept_later(tmp_path):
    items = read(write(tmp_path, "id,text\nA, \nA,now with text\n"))
    assert errors(items) == [(2, "empty_text")]
    assert rows(items) == [Row(3, "A", "now with text", {})]


def test_formula_like_cells_are_kept_verbatim(tmp_path):
    path = write(tmp_path, 'id,text,note\n1,=SUM(A1:A9),+1\n2,-cmd|calc,@import\n3,"=HYPERLINK(""x"")",=1+1\n')
    items = read(path, CsvSpec("id", ("text",), metadata_columns=("note",)))
    assert [(r.text, r.metadata["note"]) for r in items] == [
        ("=SUM(A1:A9)", "+1"),
        ("-cmd|calc", "@import"),
        ('=HYPERLINK("x")', "=1+1"),
    ]


def test_text_columns_versus_template_and_metadata(tmp_path):
    path = write(tmp_path, "id,title,body,lang,year\n1,Plants,Need light, en ,2024\n2,,Only body,fr,\n3,,,de,1\n")
    joined = read(path, CsvSpec("id", ("title", "body"), metadata_columns=("lang", "year")))
    assert joined[0] == Row(2, "1", "Plants\nNeed light", {"lang": " en ", "year": "2024"})
    assert joined[1] == Row(3, "2", "Only body", {"lang": "fr", "year": ""})
    assert joined[2].code == "empty_text"
    templated = read(path, CsvSpec("id", text_template="{title}: {body} [{lang}]"))
    assert [r.text for r in rows(templated)] == ["Plants: Need light [en]", ": Only body [fr]", ":  [de]"]
    only_text = read(path, CsvSpec("id", text_template="{title}: {body}"))
    assert errors(only_text) == [(4, "empty_text")]


def test_semicolon_and_tab_files(tmp_path):
    semi = write(tmp_path, 'id;text\n1;"a; b"\n2;3,5 €\n', name="semi.csv")
    tab = write(tmp_path, 'id\ttext\n1\t"a\tb"\n2\tc, d\n', name="tab.csv")
    assert [r.text for r in read(semi)] == ["a; b", "3,5 €"]
    assert [r.text for r in read(tab)] == ["a\tb", "c, d"]


def test_work_dir_is_used_and_cleaned_up(tmp_path):
    path = write(tmp_path, "id,text\n" + "".join(f"{i},t\n" for i in range(3000)))
    work = tmp_path / "work"
    work.mkdir()
    it = read_rows(path, SPEC, work_dir=work)
    next(it)
    assert list(work.iterdir())  # the id database lives here while reading
    it.close()
    assert not list(work.iterdir())
    assert len(read(path, work_dir=work)) == 3000
    assert not list(work.iterdir())
    assert len(read(path, work_dir=tmp_path / "not" / "yet")) == 3000  # created when missing


def test_count_data_lines(tmp_path):
    assert count_data_lines(write(tmp_path, "id,text\n1,a\n2,b\n")) == 2
    assert count_data_lines(write(tmp_path, "id,text\n1,a\n2,b")) == 2
    assert count_data_lines(write(tmp_path, "")) == 0


# --- the one-pass scan of an upload --------------------------------------------------------------


def _block_encoding(path: Path) -> str:
    """The encoding judgement as a separate full read did it before uploads were scanned (blocks
    cut at newlines), kept here as the reference the piece-by-piece judgement must match."""
    data = path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    high = bytes(range(0x80, 0x100))
    non_ascii = invalid = 0
    for block in data.splitlines(keepends=True):
        non_ascii += len(block) - len(block.translate(None, high))
        invalid += block.decode("utf-8", "replace").count("\ufffd") - block.count("\ufffd".encode())
    return "utf-8" if invalid * 2 <= non_ascii else "cp1252"


def _scan(data: bytes, piece: int) -> dict:
    scan = CsvScan()
    for start in range(0, len(data), piece):
        scan.feed(data[start : start + piece])
    return scan.facts()


SCANNED = {
    "utf-8": f"id,text\n1,{ACCENTS}\n2,plain\n".encode(),
    "utf-8-sig": f"id;text\r\n1;{ACCENTS}\r\n".encode("utf-8-sig"),
    "cp1252": f"id,text\n1,{ACCENTS}\n2,more\n".encode("cp1252"),
    "real U+FFFD": "id,text\n1,\ufffd\ufffd é\n".encode(),
    "a few bad bytes": "".join(f"{i},Grüße {i}\n" for i in range(9)).encode() + b"9,bad \xe9 byte\n",
    "cut sequences": b"id,text\n1,\xe2\x82\n2,\xf0\x9f\x98\n3,\xc3",
    "blank lines first": b"\n  \n\t\nid|text\n\n1|x",
    "no final newline": b"id,text\n1,a\n2,b",
}


@pytest.mark.parametrize("piece", [1, 2, 3, 7, 4096, 1 << 20])
@pytest.mark.parametrize("name", SCANNED)
def test_the_scan_of_the_written_pieces_matches_separate_full_reads(tmp_path, name, piece):
    data = SCANNED[name]
    path = write(tmp_path, data)
    facts = _scan(data, piece)  # pieces as small as a byte cut every UTF-8 sequence and the BOM
    assert facts["sha256"] == hashlib.sha256(data).hexdigest()
    assert facts["header"] == read_header(path)
    assert facts["header"].encoding == _block_encoding(path)
    assert facts["header"].data_lines == count_data_lines(path)


@pytest.mark.parametrize("piece", [1, 5, 1 << 20])
@pytest.mark.parametrize(
    ("content", "code"),
    [(b"", "empty_file"), (b" \n\r\n", "empty_file"), (b"\xef\xbb\xbf", "empty_file"), (b"id,text\n \n", "header_only"),
     (b"%PDF-1.7 binary", "not_a_csv"), (b"id,text\x00\n1,a\n", "not_a_csv"), (b"id,id\n1,2\n", "bad_header"),
     (b"x" * (1 << 20) + b",y\n1,2\n", "not_a_csv"), (b"\n" * 3 + b"a" * ((1 << 20) + 5), "not_a_csv")],
)
def test_the_scan_refuses_what_read_header_refuses(tmp_path, content, code, piece):
    assert header_code(write(tmp_path, content)) == code
    with pytest.raises((InvalidInput, UnsupportedFile)) as err:
        _scan(content, piece)
    assert err.value.code == code


# --- memory and speed ----------------------------------------------------------------------------

_MEASURE = textwrap.dedent(
    """
    import json, resource, sys, time
    from pathlib import Path
    from profai.ingest.csv_rows import CsvSpec, Row, read_rows
    start = time.perf_counter()
    good = sum(type(i) is Row for i in read_rows(Path(sys.argv[1]), CsvSpec("id", ("text",), metadata_columns=("tag",))))
    seconds = time.perf_counter() - start
    # ru_maxrss survives exec on Linux (it would count the forking pytest process); VmHWM does not.
    status = Path("/proc/self/status")
    hwm = [int(x.split()[1]) for x in status.read_text().splitlines() if x.startswith("VmHWM")] if status.exists() else []
    peak_kb = hwm[0] if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"rows": good, "seconds": seconds, "max_rss_kb": peak_kb}))
    """
)


def _short_rows(path: Path, n: int) -> Path:
    with path.open("w", encoding="utf-8") as f:
        f.write("id,text,tag\n")
        f.writelines(f'r{i},"row {i}, some words of text",t{i % 9}\n' for i in range(n))
    return path


def _measure(path: Path) -> dict:
    # A fresh interpreter, so peak RSS counts this file alone (SQLite's cache included).
    out = subprocess.run([sys.executable, "-c", _MEASURE, str(path)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


@pytest.mark.slow
def test_memory_stays_flat_for_a_million_rows(tmp_path):
    small = _measure(_short_rows(tmp_path / "small.csv", 100_000))
    big = _measure(_short_rows(tmp_path / "big.csv", 1_000_000))
    assert (small["rows"], big["rows"]) == (100_000, 1_000_000)
    print(
        f"\n{big['rows'] / big['seconds']:,.0f} rows/s; peak RSS {small['max_rss_kb'] // 1024} MB (100k), {big['max_rss_kb'] // 1024} MB (1M)"
    )
    assert big["max_rss_kb"] <= small["max_rss_kb"] + 10 * 1024


def test_python_heap_stays_flat(tmp_path):
    peaks = []
    for n in (10_000, 100_000):
        path = _short_rows(tmp_path / f"{n}.csv", n)
        header = read_header(path)  # its 1 MB read blocks are a constant, not per row
        tracemalloc.start()
        try:
            assert sum(1 for _ in read_rows(path, CsvSpec("id", ("text",)), header)) == n
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
    print(f"\ntracemalloc peak: {peaks[0] / 1e6:.2f} MB (10k rows), {peaks[1] / 1e6:.2f} MB (100k rows)")
    assert peaks[1] <= 1.5 * peaks[0]
    assert peaks[1] < 30 * 1024 * 1024
