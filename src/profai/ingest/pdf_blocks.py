"""Turn a page's cleaned lines into blocks a reader recognises: headings (by font size, or bold
section numbers), code (monospaced lines, kept verbatim), lists, captions, quotations (set in
from both margins) and paragraphs; and
recognise pages that only navigate (contents, index, lists of figures)."""

from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import dataclass

from profai.domain import LIST_BULLETS, Block
from profai.ingest.pdf_lines import Line, code_text

_HEADING_RATIO = 1.12  # a line this much larger than the body text is a heading
_MAX_HEADING_CHARS = 120
_MAX_LEVEL = 4
_NUMBERED_TITLE_RE = re.compile(r"^\d{1,2}(?:\.\d{1,3}){1,4}\.?\s+\S")
_BULLET_RE = re.compile(rf"^[{re.escape(LIST_BULLETS)}]\s+\S")
_NUMBERED_ITEM_RE = re.compile(r"^\(?(\d{1,2})[.)]\s+\S")
_CAPTION_RE = re.compile(r"^(?:Figure|Fig\.|Table|Listing|Exhibit)\s+[A-Z]?\d+(?:[.\-]\d+)*\s*[:.—–-]\s*\S")
# A quotation is set in from both margins alike, by more than a paragraph's first line is
# (LaTeX's quote and Texinfo's @quotation: ~25-29 pt; paragraph indents: ~15 pt). A column's width
# away is another column.
_QUOTE_INSET, _COLUMN_GAP = 20, 100
_SENTENCE_END = (".", "!", "?", ":", ";", "…", '"', "”", ")")
# Navigation pages: dot leaders ("Arrays . . . . 20"), or lines that end in page numbers.
_LEADERS_RE = re.compile(r"(?:\.\s?){4,}\s*\S*\d*$")
_ENDS_IN_PAGE_RE = re.compile(r"(?:^|[\s,])[\dIVXivx]{1,4}(?:\s*[-–]\s*\d{1,4})?$")
_NAV_TITLE_RE = re.compile(r"^(?:table of )?contents$|^index$|^list of (?:figures|tables|listings)$", re.IGNORECASE)


@dataclass(frozen=True)
class DocStyle:
    """What the body text of a document looks like, to tell headings from it."""

    body_size: float  # 0 when no page has layout (OCR only)
    heading_sizes: tuple[float, ...]  # sizes above the body's, largest first: level 1, 2, ...
    # How far right of the body text a listing's leftmost line usually starts: a listing that
    # goes on from the page before may start with indented lines, which keep their indentation.
    code_inset: float = 0.0

    @classmethod
    def of(cls, pages: list[list[Line]]) -> DocStyle:
        sizes: Counter[float] = Counter()
        insets: Counter[int] = Counter()
        for lines in pages:
            sizes.update(line.size for line in lines if line.size and len(line.text) > 40 and not line.mono)
            left = _left_edge(lines)
            insets.update(round(min(line.x for line in run) - left) for run in _mono_runs(lines))
        if not sizes:
            return cls(0.0, ())
        body = sizes.most_common(1)[0][0]
        larger = {line.size for lines in pages for line in lines
                  if line.size >= body * _HEADING_RATIO and len(line.text.strip()) <= _MAX_HEADING_CHARS}
        inset = insets.most_common(1)[0][0] if insets else 0
        return cls(body, tuple(sorted(larger, reverse=True)), float(inset))

    def heading_level(self, line: Line) -> int:
        """1 (largest) to 4 for a heading line, 0 for any other."""
        text = line.text.strip()
        if not self.body_size or line.mono or not text or len(text) > _MAX_HEADING_CHARS or not _alpha(text):
            return 0
        if line.size in self.heading_sizes:
            return min(_MAX_LEVEL, self.heading_sizes.index(line.size) + 1)
        if line.bold and line.size >= self.body_size * 0.95 and _NUMBERED_TITLE_RE.match(text) \
                and not text.endswith("."):
            return min(_MAX_LEVEL, len(self.heading_sizes) + 1)
        return 0


def _left_edge(lines: list[Line]) -> float:
    """Where the page's body text starts: the most common left of its prose lines."""
    xs = Counter(round(line.x) for line in lines if line.size and line.text.strip() and not line.mono)
    return xs.most_common(1)[0][0] if xs else 0


def _mono_runs(lines: list[Line]) -> list[list[Line]]:
    """The page's runs of monospaced lines (blank lines inside a run belong to it)."""
    runs: list[list[Line]] = []
    current: list[Line] = []
    for line in lines:
        if line.mono:
            current.append(line)
        elif line.text.strip():
            if current:
                runs.append(current)
            current = []
    if current:
        runs.append(current)
    return [run for run in runs if run[0].size]


def _alpha(text: str) -> bool:
    return any(ch.isalpha() for ch in text)


def is_navigation(lines: list[Line]) -> bool:
    """A table of contents, an index or a list of figures: mostly entries that end in page numbers."""
    texts = [line.text.strip() for line in lines if line.text.strip() and not line.mono]
    if len(texts) < 5:
        return False
    if any(_NAV_TITLE_RE.match(t) for t in texts[:2]):
        return True
    # Both patterns look at a line's end; a regex search from every position of every line of
    # every page cost more than the rest of the test.
    leaders = sum(bool(_LEADERS_RE.search(t[-48:])) for t in texts if ". ." in t or "...." in t)
    ending = sum(bool(_ENDS_IN_PAGE_RE.search(t if len(t) <= 16 else t[-16:])) for t in texts)
    short = statistics.median(len(t) for t in texts) < 50
    return leaders >= max(5, 0.3 * len(texts)) or (ending >= max(8, 0.6 * len(texts)) and short)


def page_blocks(lines: list[Line], style: DocStyle) -> tuple[Block, ...]:
    """The blocks of one page, in reading order."""
    builder = _Builder(lines, style)
    return tuple(builder.build())


class _Builder:
    def __init__(self, lines: list[Line], style: DocStyle):
        self.lines = lines
        self.style = style
        prose = [line for line in lines if line.text.strip() and not line.mono]
        self.typical = _typical([line.text for line in prose])
        self.left = _left_edge(lines)
        # The right margin: where the longest line of body text stops (ragged text reaches it
        # now and then, justified text on every full line).
        self.right = max((line.right for line in prose if line.size and abs(line.size - style.body_size) <= 0.5),
                         default=0.0)
        self.blocks: list[Block] = []
        self.prose: list[str] = []

    def build(self) -> list[Block]:
        i = 0
        while i < len(self.lines):
            line = self.lines[i]
            text = line.text.strip()
            if not text:
                self.prose.append("")
                i += 1
            elif line.mono:
                i = self._code(i)
            elif level := self.style.heading_level(line):
                i = self._heading(i, level)
            elif _BULLET_RE.match(text) or self._numbered_item(i):
                i = self._list(i)
            elif _CAPTION_RE.match(text):
                i = self._caption(i)
            else:
                i = self._prose(i)
        self._flush()
        return self.blocks

    def _emit(self, block: Block) -> None:
        self._flush()
        if block.text.strip():
            self.blocks.append(block)

    def _flush(self) -> None:
        self.blocks += [Block("paragraph", p) for p in paragraphs(self.prose, self.typical)]
        self.prose = []

    def _code(self, i: int) -> int:
        """A run of monospaced lines, blank lines inside it kept where more code follows."""
        run: list[Line] = []
        j = i
        while j < len(self.lines) and (self.lines[j].mono or not self.lines[j].text.strip()):
            if self.lines[j].mono:
                run.append(self.lines[j])
            j += 1
        while j > i and not self.lines[j - 1].text.strip():
            j -= 1
        # A listing at the top of the page may go on from the page before: its columns count from
        # where the document's listings start, so lines indented there stay indented.
        first = not self.blocks and not any(self.prose)
        left = self.left + self.style.code_inset if first and run[0].size else None
        self._emit(Block("code", code_text(run, left)))
        return j

    def _heading(self, i: int, level: int) -> int:
        """A heading and the lines it wraps onto: same size, right below."""
        first = self.lines[i]
        parts = [first.text.strip()]
        j = i + 1
        while j < len(self.lines):
            nxt = self.lines[j]
            if nxt.size != first.size or nxt.bold != first.bold or not nxt.text.strip() \
                    or self.style.heading_level(nxt) != level or not 0 < self.lines[j - 1].y - nxt.y < 1.6 * first.size:
                break
            parts.append(nxt.text.strip())
            j += 1
        self._emit(Block("heading", " ".join(parts), level))
        return j

    def _numbered_item(self, i: int) -> bool:
        """"1. ..." begins a list item when item 2 follows before the list could have ended (or
        item n-1 came just before)."""
        match = _NUMBERED_ITEM_RE.match(self.lines[i].text.strip())
        if not match:
            return False
        number = int(match.group(1))
        for j in range(i + 1, min(len(self.lines), i + 8)):
            nxt = _NUMBERED_ITEM_RE.match(self.lines[j].text.strip())
            if nxt:
                return int(nxt.group(1)) == number + 1
        return number > 1 and bool(self.blocks) and self.blocks[-1].kind == "list"

    def _list(self, i: int) -> int:
        """Items, each with the lines it wraps onto, until a line that is neither."""
        items: list[str] = []
        j = i
        while j < len(self.lines):
            line = self.lines[j]
            text = line.text.strip()
            if not text or line.mono or self.style.heading_level(line):
                break
            if _BULLET_RE.match(text) or _NUMBERED_ITEM_RE.match(text) and (j == i or self._numbered_item(j)):
                items.append(text)
            elif items and (line.x > self.lines[i].x + 1 if line.size else not items[-1].endswith(_SENTENCE_END)):
                items[-1] = _unwrapped([items[-1], text])  # wrapped: indented past the bullet
            else:
                break
            j += 1
        self._emit(Block("list", "\n".join(items)))
        return j

    def _prose(self, i: int) -> int:
        """Line i and the lines set in alike below it: a quotation, or paragraph text."""
        end = self._inset_run(i)
        run = self.lines[i:end]
        if self._quotation(i, end):
            self._emit(Block("quote", _unwrapped([line.text.strip() for line in run])))
            return end
        # A line set in from the page's left edge begins a paragraph (a column's width away is
        # another column, not an indent); the lines set in alike below it (a definition's
        # description) go on with it.
        if run[0].size and 3 < run[0].x - self.left < 40:
            self.prose.append("")
        self.prose += [line.text.strip() for line in run]
        return end

    def _inset_run(self, i: int) -> int:
        """The end of the run of lines that starts at line i and is set in from the left alike
        (its first line may be set in further); i + 1 when line i is not set in."""
        def inset(line: Line) -> bool:
            return bool(line.size and line.text.strip()) and not line.mono \
                and not self.style.heading_level(line) and _QUOTE_INSET <= line.x - self.left < _COLUMN_GAP \
                and not _BULLET_RE.match(line.text.strip()) and not _CAPTION_RE.match(line.text.strip())
        first, j = self.lines[i], i + 1
        if not inset(first) or j == len(self.lines) or first.x < self.lines[j].x - 2:
            return j
        second = self.lines[j]
        while j < len(self.lines) and inset(self.lines[j]) and abs(self.lines[j].x - second.x) <= 2:
            j += 1
        return j

    def _quotation(self, i: int, end: int) -> bool:
        """Lines i to end are two or more lines of sentences in the body's type (or smaller), set
        in from both margins alike: no line goes past the right inset, and the longest reaches it
        (ragged text stops short of it now and then; the last line may stop anywhere). Set in from
        the left only is a definition's description; a table's lines neither stop alike nor end
        a sentence; lines set in between code lines are a listing's comments in a roman face."""
        run = self.lines[i:end]
        if len(run) < 2 or not run[-1].text.rstrip().endswith(_SENTENCE_END) \
                or any(line.size > self.style.body_size + 0.5 for line in run) \
                or self._mono_at(i - 1, -1) or self._mono_at(end, 1):
            return False
        left = run[1].x - self.left
        insets = [self.right - line.right for line in run[:-1]]
        return min(insets) >= left - 10 and min(insets) <= 2 * left + 10

    def _mono_at(self, i: int, step: int) -> bool:
        """Whether the first non-blank line from i on (going by `step`) is code."""
        while 0 <= i < len(self.lines) and not self.lines[i].text.strip():
            i += step
        return 0 <= i < len(self.lines) and self.lines[i].mono

    def _caption(self, i: int) -> int:
        parts = [self.lines[i].text.strip()]
        j = i + 1
        while j < len(self.lines) and len(parts[-1]) >= 0.85 * self.typical and not parts[-1].endswith(_SENTENCE_END):
            nxt = self.lines[j]
            if not nxt.text.strip() or nxt.mono or self.style.heading_level(nxt):
                break
            parts.append(nxt.text.strip())
            j += 1
        self._emit(Block("caption", _unwrapped(parts)))
        return j


def paragraphs(lines: list[str], typical: int | None = None) -> list[str]:
    """Join wrapped lines into paragraphs; a short line ends one, a heading-like line starts one,
    a blank line separates two. `typical` is the length of a full line (from the lines if None)."""
    if typical is None:
        typical = _typical(lines)
    out: list[str] = []
    current: list[str] = []  # the paragraph's pieces, joined once it ends
    for i, line in enumerate(lines):
        if not line:
            _flush(out, current)
            continue
        _join(current, line)
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        short = len(line) < 0.7 * typical
        ends = line.endswith(_SENTENCE_END)
        if short or (ends and len(line) < 0.85 * typical) or (ends and _heading_like(nxt, typical)):
            _flush(out, current)
    _flush(out, current)
    return out


def _typical(lines: list[str]) -> int:
    """The length of a full line: the 80th percentile of the lines' lengths (all of a few lines)."""
    lengths = sorted(len(line) for line in lines if line)
    if not lengths:
        return 0
    return lengths[int(len(lengths) * 0.8)] if len(lengths) > 4 else lengths[-1]


def _heading_like(line: str, typical: int) -> bool:
    return bool(line) and len(line) < 0.6 * typical and not line.endswith(_SENTENCE_END) and line[0].isupper()


def _unwrapped(lines: list[str]) -> str:
    """Lines wrapped from one paragraph, joined back into it."""
    pieces: list[str] = []
    for line in lines:
        _join(pieces, line)
    return "".join(pieces)


def _join(current: list[str], line: str) -> None:
    """Add a line to the pieces of a paragraph. Pieces, not one growing string: a page can be one
    paragraph of millions of characters, and re-copying it for every line would be quadratic.
    The last piece is always a whole line (lines are never blank here)."""
    if not current:
        current.append(line)
        return
    last = current[-1]
    # "exam-" + "ple" is line-end hyphenation; "light-" + "Dependent" or "-" alone is not.
    if len(last) > 1 and last.endswith("-") and last[-2].isalpha() and line[:1].islower():
        current[-1] = last[:-1]
        current.append(line)
    else:
        current += (" ", line)


def _flush(paragraphs: list[str], current: list[str]) -> None:
    text = "".join(current).strip()
    if text:
        paragraphs.append(text)
    current.clear()
