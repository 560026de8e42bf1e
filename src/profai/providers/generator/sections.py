"""Plain data shared by the structure steps: paragraphs with pages, sections and module plans."""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from profai.domain import LIST_BULLETS, Block, blocks_text
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


# Blocks a lesson's summary, key terms and questions are drawn from; code and headings are not prose.
PROSE_KINDS = ("paragraph", "list")
# Key terms may come from headings and captions too (a heading names what matters), never from code.
KEY_TERM_KINDS = (*PROSE_KINDS, "heading", "caption")


@dataclass(frozen=True)
class Para:
    """One block of source text (a paragraph, or a heading, code, list or caption: `kind`) and the
    pages it sits on; `breaks` marks the pages that begin inside it (one running over a page break)."""

    text: str
    page_start: int
    page_end: int
    words: int
    breaks: tuple[tuple[int, int], ...] = ()
    kind: str = "paragraph"
    level: int = 0

    def piece(self, start: int, end: int, text: str, words: int) -> Para:
        """The part of this paragraph from `start` to `end`, with its own pages."""
        inside = tuple((at - start, page) for at, page in self.breaks if start < at < end)
        return Para(text, page_at(self.breaks, start, self.page_start),
                    page_at(self.breaks, max(start, end - 1), self.page_start), words, inside, self.kind)


# A list item's marker: blanked so that each item reads as a paragraph of its own.
_ITEM_MARKER_RE = re.compile(rf"^(?:[{re.escape(LIST_BULLETS)}]|\(?\d{{1,2}}[.)])(?=\s)", re.MULTILINE)


def prose_only(content: str, blocks: Sequence[Block], keep: tuple[str, ...] = PROSE_KINDS) -> str:
    """`content` with its code, headings and captions blanked out and list markers made paragraph
    breaks, character for character (so offsets into it still find their page): what summaries,
    key terms and questions are drawn from. Content that is not its blocks' text (written by a
    model) is returned as it is."""
    if not blocks or blocks_text(blocks) != content:
        return content
    return "\n\n".join(_prose_of(b, keep) for b in blocks)


def _prose_of(block: Block, keep: tuple[str, ...]) -> str:
    if block.kind == "list":
        return _ITEM_MARKER_RE.sub(lambda m: "\n" * len(m.group()), block.text)
    return block.text if block.kind in keep else "\n" * len(block.text)


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
    def prose(self) -> str:
        """The text to summarise: no code, headings or captions."""
        return prose_only(self.text, self.blocks)

    @property
    def words_text(self) -> str:
        """The text to take key terms from: all but code (a heading names what matters)."""
        return prose_only(self.text, self.blocks, keep=KEY_TERM_KINDS)

    @property
    def blocks(self) -> list[Block]:
        """The lesson as blocks; `text` is their texts, a blank line apart."""
        return [Block(p.kind, p.text, p.level) for p in self.paras]

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
    """Fold sections under MIN_LESSON_WORDS into the previous one (the next one if first); a folded
    section's title stays in the lesson as a heading."""
    merged: list[Section] = []
    pending: Section | None = None  # a tiny leading section waiting for the next one
    for section in (s for s in sections if s.paras):
        if pending is not None:
            if pending.title:
                section = Section(pending.title, pending.paras + _headed(section))
            else:
                section = Section(section.title, pending.paras + section.paras)
            pending = None
        if section.words >= MIN_LESSON_WORDS:
            merged.append(section)
        elif merged:
            # Appending keeps the tiny text next to what it followed in the source.
            merged[-1] = Section(merged[-1].title, merged[-1].paras + _headed(section))
        else:
            pending = section
    if pending is not None:
        merged.append(pending)
    return merged


def _headed(section: Section) -> list[Para]:
    """The section's paragraphs under its title, as a heading block."""
    if not section.title:
        return section.paras
    first = section.paras[0]
    return [Para(section.title, first.page_start, first.page_start, len(section.title.split()), kind="heading",
                 level=3), *section.paras]


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
        if para.words <= limit or para.kind != "paragraph":  # code, lists and the rest stay whole
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
