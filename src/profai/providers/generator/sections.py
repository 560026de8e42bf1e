"""Plain data shared by the structure steps: paragraphs with pages, sections and module plans."""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from profai.text import split_sentences

MIN_LESSON_WORDS = 80
MAX_LESSON_WORDS = 1500

# Where pages begin in a text: (character offset, page number) pairs, offsets ascending; lists of
# two once read back from the database's JSON, which serve the same.
PageMarks = Sequence[Sequence[int]]


def page_at(marks: PageMarks, offset: int, default: int) -> int:
    """The page the character at `offset` sits on; `default` before the first mark."""
    i = bisect.bisect_right([at for at, _ in marks], offset) - 1
    return marks[i][1] if i >= 0 else default


@dataclass(frozen=True)
class Para:
    """One paragraph of source text and the pages it sits on; `breaks` marks the pages that begin
    inside it (a paragraph running over a page break)."""

    text: str
    page_start: int
    page_end: int
    words: int
    breaks: tuple[tuple[int, int], ...] = ()

    def piece(self, start: int, end: int, text: str, words: int) -> Para:
        """The part of this paragraph from `start` to `end`, with its own pages."""
        inside = tuple((at - start, page) for at, page in self.breaks if start < at < end)
        return Para(text, page_at(self.breaks, start, self.page_start),
                    page_at(self.breaks, max(start, end - 1), self.page_start), words, inside)


@dataclass
class Section:
    """A run of paragraphs that becomes one lesson; `title` None means "name it by key terms"."""

    title: str | None
    paras: list[Para] = field(default_factory=list)

    @property
    def words(self) -> int:
        return sum(p.words for p in self.paras)

    @property
    def text(self) -> str:
        return "\n\n".join(p.text for p in self.paras)

    @property
    def page_marks(self) -> list[tuple[int, int]]:
        """Where each page begins in `text`, so any sentence of the lesson can name its page."""
        marks: list[tuple[int, int]] = []
        offset = 0
        for para in self.paras:
            for at, page in ((0, para.page_start), *para.breaks):
                if not marks or marks[-1][1] != page:
                    marks.append((offset + at, page))
            offset += len(para.text) + 2
        return marks


@dataclass
class ModulePlan:
    """A module's title (None = name it by key terms) and its sections."""

    title: str | None
    sections: list[Section] = field(default_factory=list)

    @property
    def words(self) -> int:
        return sum(s.words for s in self.sections)


def size_sections(sections: list[Section]) -> list[Section]:
    """Drop empty sections, fold tiny ones into a neighbour and split long ones into parts."""
    out: list[Section] = []
    for section in merge_tiny(sections):
        out.extend(_split_long(section))
    return out


def merge_tiny(sections: list[Section]) -> list[Section]:
    """Fold sections under MIN_LESSON_WORDS into the previous one (the next one if first)."""
    merged: list[Section] = []
    pending: list[Para] = []  # a tiny leading section waiting for the next one
    pending_title: str | None = None
    for section in (s for s in sections if s.paras):
        if pending:
            section = Section(section.title, pending + section.paras)
            pending = []
        if section.words >= MIN_LESSON_WORDS:
            merged.append(section)
        elif merged:
            # Appending keeps the tiny text next to what it followed in the source.
            merged[-1] = Section(merged[-1].title, merged[-1].paras + section.paras)
        else:
            pending, pending_title = section.paras, section.title
    if pending:
        merged.append(Section(pending_title, pending))
    return merged


def _split_long(section: Section) -> list[Section]:
    total = section.words
    if total <= MAX_LESSON_WORDS:
        return [section]
    parts = math.ceil(total / MAX_LESSON_WORDS)
    target = total / parts
    groups: list[list[Para]] = [[]]
    size = 0
    for para in sentence_pieces(section.paras, int(target)):
        if groups[-1] and size + para.words > target * 1.1:
            groups.append([])
            size = 0
        groups[-1].append(para)
        size += para.words
    if len(groups) == 1:
        return [section]
    return [Section(_part_title(section.title, i), g) for i, g in enumerate(groups, start=1)]


def _part_title(title: str | None, number: int) -> str | None:
    return f"{title} (part {number})" if title else None


def sentence_pieces(paras: list[Para], limit: int) -> list[Para]:
    """Break paragraphs longer than `limit` words into runs of whole sentences."""
    out: list[Para] = []
    for para in paras:
        if para.words <= limit:
            out.append(para)
            continue
        run: list[str] = []
        size = start = end = 0
        for sentence in split_sentences(para.text):
            n = len(sentence.split())
            if run and size + n > limit:
                out.append(para.piece(start, end, " ".join(run), size))
                run, size = [], 0
            # Where the sentence sits in the paragraph, for the pages of each piece.
            found = para.text.find(sentence, end)
            at = found if found >= 0 else end
            if not run:
                start = at
            end = at + len(sentence)
            run.append(sentence)
            size += n
        if run:
            out.append(para.piece(start, end, " ".join(run), size))
    return out
