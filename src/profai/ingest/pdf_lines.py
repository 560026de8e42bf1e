"""A page's text layer as lines with the layout facts that tell code, headings and paragraphs
apart: font size, whether the font is monospaced, bold, and where the line starts.

PDFium's char index runs through `get_text_range`, one index per character, so a few chars of
each line (first, middle, last) are probed for their font: three calls a line, not one a char.
Only monospaced lines have every char's position read, to put each at its column."""

from __future__ import annotations

import ctypes
import functools
import re
import statistics
from dataclasses import dataclass, field

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

# Font names of typewriter faces: TeX's cmtt/lmmono/txtt, Courier, the *Mono families, Consolas...
_MONO_RE = re.compile(r"(?:^|[+,-])(?:[a-z]*tt\d|lmmono|txtt|pcr|courier)|mono|consol|menlo|inconsolata|typewriter|"
                      r"fixed|sourcecode|firacode|monaco|lucidaconsole", re.IGNORECASE)
_BOLD_RE = re.compile(r"bold|black|heavy|semibold|demi|cmbx|cmb\d|\bbx\d", re.IGNORECASE)
_FONT_NAME_BYTES = 128
# A hyphen between letters: PDFium joins a line that ends in one to the next ("exam-" "ple" reads
# "exam-ple"); where the letter after it sits on a lower baseline, it was a line-end hyphen.
_WORD_RE = re.compile(r"\S+")
_HYPHEN_RE = re.compile(r"(?<=[^\W\d_])-(?=[a-z])")


@dataclass
class Line:
    """One printed line. `size` 0 means the layout is unknown (an OCRed page): only `text` counts."""

    text: str
    size: float = 0.0  # font size in points of the line's first char
    mono: bool = False  # first, middle and last chars in a monospaced font
    bold: bool = False
    x: float = 0.0  # left of the first char, in points from the page's left
    right: float = 0.0  # left of the last char: where the line stops, for insets from the right
    y: float = 0.0  # its baseline, in points from the page's bottom
    words: list[tuple[float, str]] = field(default_factory=list)  # (x, word) of a mono line's runs of non-spaces
    advance: float = 0.0  # a mono line's width per char


def plain_lines(text: str) -> list[Line]:
    return [Line(part) for part in re.split(r"\r\n|\r|\n", text)]


def read_lines(textpage: pdfium.PdfTextPage) -> tuple[str, list[Line]]:
    """The page's text and its lines with layout; lines without it when PDFium's char index does
    not match the text (a page with chars outside UCS-2)."""
    count = textpage.count_chars()
    text = textpage.get_text_range(0, count) if count else ""
    if len(text) != count:
        text = textpage.get_text_bounded()
        return text, plain_lines(text)
    probe = _Probe(textpage)
    lines: list[Line] = []
    start = 0
    for part in text.split("\r\n"):
        lines.append(probe.line(part, start))
        start += len(part) + 2
    return text, _rejoin(lines)


class _Probe:
    def __init__(self, textpage: pdfium.PdfTextPage):
        self.raw = textpage.raw
        self.name = ctypes.create_string_buffer(_FONT_NAME_BYTES)
        self.flags = ctypes.byref(ctypes.c_int())
        self.x = ctypes.c_double()
        self.y = ctypes.c_double()
        self.xy = (ctypes.byref(self.x), ctypes.byref(self.y))
        self.box = pdfium_c.FS_RECTF()

    def font(self, index: int) -> tuple[bool, bool]:
        """Whether the char's font is monospaced, and bold."""
        pdfium_c.FPDFText_GetFontInfo(self.raw, index, self.name, _FONT_NAME_BYTES, self.flags)
        return _font_kind(self.name.value)

    def origin(self, index: int) -> tuple[float, float]:
        pdfium_c.FPDFText_GetCharOrigin(self.raw, index, *self.xy)
        return self.x.value, self.y.value

    def _unhyphenate(self, text: str, start: int) -> str:
        cuts = [m.start() for m in _HYPHEN_RE.finditer(text)
                if self.origin(start + m.start() + 1)[1] < self.origin(start + m.start())[1] - 1]
        for at in reversed(cuts):
            text = text[:at] + text[at + 1:]
        return text

    def line(self, text: str, start: int) -> Line:
        stripped = text.strip()
        if not stripped:
            return Line(text)
        first = start + len(text) - len(text.lstrip())
        last = start + len(text.rstrip()) - 1
        mono, bold = self.font(first)
        # Most lines are not code: their first char says so, and one call is all they cost.
        mono = mono and self.font((first + last) // 2)[0] and self.font(last)[0]
        x, y = self.origin(first)
        right = self.origin(last)[0]
        if not mono and "-" in text:
            text = self._unhyphenate(text, start)
        line = Line(text, size=round(pdfium_c.FPDFText_GetFontSize(self.raw, first), 1), mono=mono,
                    bold=bold, x=x, y=y, right=right)
        if mono:
            # A word's chars stand in consecutive columns: one position per word places them all.
            line.words = [(self.origin(start + m.start())[0], m.group()) for m in _WORD_RE.finditer(text)]
            # The loose box spans the glyph's advance, not its ink: one column's width.
            if pdfium_c.FPDFText_GetLooseCharBox(self.raw, first, ctypes.byref(self.box)):
                line.advance = self.box.right - self.box.left
        return line


@functools.lru_cache(maxsize=256)
def _font_kind(name: bytes) -> tuple[bool, bool]:
    """(monospaced, bold) by the font's name; a document uses a handful of fonts, asked about per line."""
    text = name.decode("latin-1")
    return bool(_MONO_RE.search(text)), bool(_BOLD_RE.search(text))


def _rejoin(lines: list[Line]) -> list[Line]:
    """PDFium ends a line at a raised footnote mark ("allowed¹" / "(and in some countries..."):
    a line that goes on along the same baseline, to the right, joins the one before it."""
    out: list[Line] = []
    for line in lines:
        prev = out[-1] if out else None
        if (prev and prev.size and line.size and not line.mono and not prev.mono and line.text.strip()
                and abs(line.y - prev.y) < 0.5 and line.x > prev.x):
            prev.text = f"{prev.text.rstrip()} {line.text.lstrip()}"
            prev.right = line.right
        else:
            out.append(line)
    return out


def code_text(lines: list[Line], left: float | None = None) -> str:
    """Monospaced lines as printed: each glyph at its column, counted in steps of the font's
    advance from the leftmost glyph of the block (or from `left`, where listings start, if that is
    further left), so indentation and alignment survive."""
    advance = _advance(lines)
    if not advance:
        return "\n".join(line.text.strip() for line in lines)
    leftmost = min(x for line in lines for x, _ in line.words[:1])
    left = leftmost if left is None else min(left, leftmost)
    rows = []
    for line in lines:
        row = ""
        for x, word in line.words:
            column = max(len(row), round((x - left) / advance))
            row += " " * (column - len(row)) + word
        rows.append(row)
    return "\n".join(rows)


def _advance(lines: list[Line]) -> float:
    """The font's width per char: as PDFium measures it, else the usual step between glyphs."""
    widths = [line.advance for line in lines if line.advance > 0]
    if widths:
        return statistics.median(widths)
    # Each word's width over its length; a line of one-char words gives none.
    steps = [(b[0] - a[0]) / (len(a[1]) + 1) for line in lines for a, b in zip(line.words, line.words[1:])]
    return statistics.median(steps) if steps else 0.0
