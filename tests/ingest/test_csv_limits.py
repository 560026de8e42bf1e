"""Hostile CSV headers and values: a column cap, a linear duplicate check, and messages that echo
at most a short snippet of what they refuse."""

from __future__ import annotations

import pytest

from profai.errors import InvalidInput
from profai.ingest.csv_rows import CsvSpec, RowError, read_header, read_rows, validate_spec
from profai.ingest.csv_scan import MAX_COLUMNS, CsvHeader, CsvScan, parse_header


def _scan(content: bytes, **kwargs) -> CsvHeader:
    scan = CsvScan(**kwargs)
    scan.feed(content)
    return scan.header()


def test_a_header_past_the_column_cap_is_refused(tmp_path):
    wide = ",".join(f"c{n}" for n in range(MAX_COLUMNS + 1)).encode() + b"\n" + b"1," * MAX_COLUMNS + b"1\n"
    with pytest.raises(InvalidInput) as err:
        _scan(wide)
    assert err.value.code == "too_many_columns" and err.value.status_code == 422
    assert "1,001 columns" in err.value.message and "1,000" in err.value.message
    path = tmp_path / "wide.csv"
    path.write_bytes(wide)
    with pytest.raises(InvalidInput):
        read_header(path)  # jobs queued before the upload checked it meet the same cap
    assert len(_scan(wide, max_columns=MAX_COLUMNS + 1).columns) == MAX_COLUMNS + 1  # MAX_CSV_COLUMNS


def test_a_duplicate_among_100000_columns_is_found_in_linear_time():
    # list.count per column made this 10^10 steps; a regression shows as a hang, not a failed assert.
    names = [f"c{n}" for n in range(100_000)] + ["c7"]
    with pytest.raises(InvalidInput) as err:
        parse_header(",".join(names), max_columns=200_000)
    assert err.value.code == "bad_header" and err.value.message == "Header repeats column name(s) 'c7'."


def test_a_repeated_long_column_name_is_clipped_in_the_message():
    name = "x" * 5000
    with pytest.raises(InvalidInput) as err:
        parse_header(f"id,{name},{name}")
    assert len(err.value.message) < 200
    assert "'xxxxx" in err.value.message and "(5000 characters)" in err.value.message


def test_many_problems_are_listed_briefly():
    with pytest.raises(InvalidInput) as err:
        parse_header(",".join(["a", "a", "b", "b", "c", "c", "d", "d", "e", "e", "f", "f", "g", "g"]))
    assert err.value.message == "Header repeats column name(s) 'a', 'b', 'c', 'd', 'e' and 2 more."
    with pytest.raises(InvalidInput) as err:
        parse_header("id" + "," * 30)
    assert err.value.message == "Header column(s) 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 and 20 more have no name."


def test_a_missing_column_error_stays_short_for_a_wide_header():
    header = CsvHeader(columns=tuple(f"column_{n}_" + "y" * 200 for n in range(MAX_COLUMNS)), encoding="utf-8",
                       delimiter=",")
    with pytest.raises(InvalidInput) as err:
        validate_spec(header, CsvSpec("z" * 10_000, ("column_1_" + "y" * 200,)))
    assert err.value.code == "missing_id_column"
    assert len(err.value.message) < 3000  # was over 200 KB
    assert "(10000 characters)" in err.value.message and "and 980 more" in err.value.message


def test_row_errors_clip_what_they_echo(tmp_path):
    long_id = "i" * 5000
    path = tmp_path / "rows.csv"
    path.write_bytes(f"id,text\n{long_id},one\n{long_id},two\nok,bad\rline\n".encode())
    errors = [item for item in read_rows(path, CsvSpec("id", ("text",))) if isinstance(item, RowError)]
    by_code = {e.code: e.reason for e in errors}
    assert len(by_code["duplicate_id"]) < 200 and "(5000 characters)" in by_code["duplicate_id"]
    # In our words, not the csv module's ("new-line character seen in unquoted field - do you need
    # to open the file with newline=''?").
    assert by_code["wrong_field_count"] == (
        "the line cannot be split into fields: a field that is not quoted holds a carriage return (\\r)")
