"""Plain data shared by the structure steps: paragraphs with pages, sections and module plans."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from profai.ingest.text import split_sentences

MIN_LESSON_WORDS = 80
MAX_LESSON_WORDS = 1500


@dataclass(frozen=True)
class Para:
    """One paragraph of source text and the pages it sits on."""

    text: str
    page_start: int
    page_end: int
    words: int


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
        size = 0
        for sentence in split_sentences(para.text):
            n = len(sentence.split())
            if run and size + n > limit:
                out.append(Para(" ".join(run), para.page_start, para.page_end, size))
                run, size = [], 0
            run.append(sentence)
            size += n
        if run:
            out.append(Para(" ".join(run), para.page_start, para.page_end, size))
    return out
