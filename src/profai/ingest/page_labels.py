"""The number printed on each page ("32", "iv"), which a reader looks for, as opposed to the PDF's
own page index, which links and rendering use. From the PDF's page labels when it has them,
otherwise read off the pages: a number in the running header or footer that keeps a steady
distance from the page index over neighbouring pages."""

from __future__ import annotations

import re
from collections import defaultdict

_ARABIC_EDGE_RE = re.compile(r"^(\d{1,4})\b|\b(\d{1,4})$")
_ROMAN_RE = re.compile(r"^[ivxlc]{1,7}$", re.IGNORECASE)
_ROMAN = {"i": 1, "v": 5, "x": 10, "l": 50, "c": 100}
_NEAR = 8  # pages either side in which the same distance must be seen again
_EDGE_LINES = 2  # lines at the top and at the bottom of a page that may carry its number
# Pages nearby that must show the same distance: a line that is only a roman numeral is rarely
# anything but a folio, and front matter is often two pages long (R-data's "i", "ii").
_SUPPORT = {"arabic": 3, "roman": 2}

Offset = tuple[str, int]  # ("arabic" | "roman", printed number - page index)


def page_labels(pdf_labels: list[str], pages_lines: list[list[str]]) -> list[str | None]:
    """One label per page (None where none is known): the PDF's labels if it has any, else those
    read off the pages' edge lines."""
    if any(pdf_labels):
        return [label or None for label in pdf_labels]
    return detect_labels(pages_lines)


def detect_labels(pages_lines: list[list[str]]) -> list[str | None]:
    candidates = [set(_candidates(lines, index + 1)) for index, lines in enumerate(pages_lines)]
    seen: dict[Offset, list[int]] = defaultdict(list)
    for index, offsets in enumerate(candidates):
        for offset in offsets:
            seen[offset].append(index)
    chosen: list[Offset | None] = []
    for index, offsets in enumerate(candidates):
        # The distance seen on most pages nearby (a section number at the top of a page is not).
        support = {o: sum(abs(i - index) <= _NEAR for i in seen[o]) for o in offsets}
        best = max(sorted(support), key=lambda o: support[o], default=None)
        chosen.append(best if best is not None and support[best] >= _SUPPORT[best[0]] else None)
    _fill_gaps(chosen)
    return [_label(index + 1, offset) for index, offset in enumerate(chosen)]


def _candidates(lines: list[str], page: int) -> list[Offset]:
    body = [line.strip() for line in lines if line.strip()]
    edges = body[:_EDGE_LINES] + body[-_EDGE_LINES:]
    found: list[Offset] = []
    for line in edges:
        if _ROMAN_RE.match(line):
            found.append(("roman", _roman(line) - page))
        match = _ARABIC_EDGE_RE.search(line)
        if match:
            found.append(("arabic", int(match.group(1) or match.group(2)) - page))
    return found


def _fill_gaps(chosen: list[Offset | None]) -> None:
    """A page without its number (a chapter's first page) between two pages at the same distance
    is at that distance too."""
    last: int | None = None
    for index, offset in enumerate(chosen):
        if offset is None:
            continue
        if last is not None and index - last > 1 and chosen[last] == offset:
            for gap in range(last + 1, index):
                chosen[gap] = offset
        last = index


def _label(page: int, offset: Offset | None) -> str | None:
    if offset is None or page + offset[1] < 1:
        return None
    number = page + offset[1]
    return _to_roman(number) if offset[0] == "roman" else str(number)


def _roman(text: str) -> int:
    values = [_ROMAN[ch] for ch in text.lower()]
    return sum(-v if i + 1 < len(values) and v < values[i + 1] else v for i, v in enumerate(values))


def _to_roman(number: int) -> str:
    out = []
    for value, numeral in ((100, "c"), (90, "xc"), (50, "l"), (40, "xl"), (10, "x"), (9, "ix"), (5, "v"),
                           (4, "iv"), (1, "i")):
        while number >= value:
            out.append(numeral)
            number -= value
    return "".join(out)
