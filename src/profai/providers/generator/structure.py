"""Find a document's modules and lessons: from its outline, else its headings, else by topic."""

from __future__ import annotations

import bisect
import re
from collections import Counter
from dataclasses import dataclass

from profai.domain import PdfDocument
from profai.providers.generator.sections import (
    MAX_LESSON_WORDS,
    MIN_LESSON_WORDS,
    ModulePlan,
    Para,
    Section,
    size_sections,
)
from profai.providers.generator.segment import topic_plans

# Back matter and navigation pages are not lesson material.
_SKIP_TITLE_RE = re.compile(
    r"^(?:[A-Z0-9]{1,3}(?:\.\d+)*\.?\s+)?(?:(?:table of )?contents|.*\bindex(?:es)?|bibliography|references|list of (?:figures|tables))$",
    re.IGNORECASE,
)
_NUMBERED_RE = re.compile(r"^(\d{1,2}(?:\.\d{1,3}){0,4})\.?\s+(?=[A-Z])")
_NAMED_RE = re.compile(r"^(?:chapter|part|appendix|lesson|unit)\s+[\dIVXLA-Z]+\b", re.IGNORECASE)
_SENTENCE_END = (".", "!", "?", ":", ";", ",")
_HEADING_SEARCH = 400  # paragraphs scanned for an outline title before falling back to the page top


@dataclass(frozen=True)
class Marker:
    """Where a titled section starts in the paragraph list."""

    title: str
    level: int
    index: int  # paragraph where the section starts
    consumed: bool  # the paragraph at `index` is the heading itself, not body text


def plan_document(doc: PdfDocument) -> list[ModulePlan]:
    """Modules with sized sections for one document."""
    paras = paragraphs(doc)
    if not paras:
        return []
    plans = _plans_from_markers(paras, outline_markers(doc, paras), keep_front=False)
    if not plans:
        plans = _plans_from_markers(paras, heading_markers(paras), keep_front=True)
    if not plans:
        plans = topic_plans(paras)
    return _finish(plans)


def paragraphs(doc: PdfDocument) -> list[Para]:
    """All paragraphs in reading order, re-joining one that runs across a page break."""
    out: list[Para] = []
    for page in doc.pages:
        first = True
        for block in page.text.split("\n\n"):
            block = block.strip()
            if not block:
                continue
            words = len(block.split())
            prev = out[-1] if out else None
            if first and prev and prev.page_end == page.number - 1 and _continues(prev.text, block):
                out[-1] = Para(f"{prev.text} {block}", prev.page_start, page.number, prev.words + words,
                               (*prev.breaks, (len(prev.text) + 1, page.number)))
            else:
                out.append(Para(block, page.number, page.number, words))
            first = False
    return out


def _continues(previous: str, block: str) -> bool:
    return not previous.endswith((".", "!", "?", ":")) and block[:1].islower()


def _norm(text: str) -> str:
    return " ".join(re.findall(r"[^\W_]+", text.lower()))


def outline_markers(doc: PdfDocument, paras: list[Para]) -> list[Marker]:
    """Outline entries placed at their heading paragraph, or at the top of their page."""
    page_ends = [p.page_end for p in paras]
    entries = sorted(enumerate(doc.outline), key=lambda item: (item[1].page, item[0]))
    markers: list[Marker] = []
    cursor = 0
    for _, entry in entries:
        top = max(cursor, bisect.bisect_left(page_ends, entry.page))
        found = _find_heading(paras, entry.title, entry.page, top)
        if found is None:
            markers.append(Marker(entry.title, entry.level, min(top, len(paras)), False))
            cursor = min(top, len(paras))
        else:
            markers.append(Marker(entry.title, entry.level, found, True))
            cursor = found + 1
    return markers


def _find_heading(paras: list[Para], title: str, page: int, start: int) -> int | None:
    wanted = _norm(title)
    if not wanted:
        return None
    for i in range(start, min(len(paras), start + _HEADING_SEARCH)):
        para = paras[i]
        if para.page_start > page + 1:
            break
        if len(para.text) > len(title) + 40:
            continue
        got = _norm(para.text)
        # The text often carries the section number the outline leaves out ("1.1 The R environment").
        if got == wanted or (got.endswith(" " + wanted) and len(got) - len(wanted) <= 16):
            return i
    return None


def heading_markers(paras: list[Para]) -> list[Marker]:
    """Short title-like paragraphs followed by body text; numbered ones win when present."""
    numbered: list[Marker] = []
    plain: list[Marker] = []
    for i, para in enumerate(paras[:-1]):
        if not _title_like(para.text):
            continue
        level = _numbered_level(para.text)
        following = paras[i + 1]
        body_next = following.words >= 12 and not _title_like(following.text)
        if level is not None and (body_next or _numbered_level(following.text) is not None):
            numbered.append(Marker(para.text, level, i, True))
        elif level is None and body_next and _title_case(para.text):
            plain.append(Marker(para.text, 0, i, True))
    return numbered if len(numbered) >= 2 else plain


def _title_like(text: str) -> bool:
    words = text.split()
    if not 1 <= len(words) <= 12 or len(text) > 100 or text.endswith(_SENTENCE_END):
        return False
    if not (text[0].isupper() or text[0].isdigit()):
        return False
    visible = [ch for ch in text if not ch.isspace()]
    return sum(ch.isalpha() for ch in visible) >= 0.6 * len(visible)


def _numbered_level(text: str) -> int | None:
    if _NAMED_RE.match(text):
        return 0
    match = _NUMBERED_RE.match(text)
    return match.group(1).count(".") if match else None


def _title_case(text: str) -> bool:
    significant = [w for w in re.findall(r"[^\W\d_]+", text) if w.lower() not in _MINOR_WORDS]
    return bool(significant) and sum(w[0].isupper() for w in significant) >= 0.7 * len(significant)


_MINOR_WORDS = frozenset(["a", "an", "and", "as", "at", "but", "by", "for", "in", "nor", "of", "on", "or", "the", "to", "with", "vs", "via"])


def _plans_from_markers(paras: list[Para], markers: list[Marker], keep_front: bool) -> list[ModulePlan]:
    """Modules at the shallowest level with 2+ entries, lessons from the levels below it; a
    document with a single heading in all is one module named after it."""
    counts = Counter(m.level for m in markers)
    if not counts:
        return []
    level = next((lv for lv in sorted(counts) if counts[lv] >= 2), min(counts))
    bounds = [m for m in markers if m.level <= level]
    tree = _MarkerTree(paras, markers)
    plans: list[ModulePlan] = []
    if keep_front and bounds[0].index > 0:
        # Text before the first heading is real content when headings came from the text itself.
        plans.append(ModulePlan(None, [Section(None, paras[: bounds[0].index])]))
    for j, bound in enumerate(bounds):
        end = bounds[j + 1].index if j + 1 < len(bounds) else len(paras)
        if bound.level < level or _SKIP_TITLE_RE.match(bound.title):
            continue
        start = bound.index + bound.consumed
        plans.append(ModulePlan(bound.title, tree.sections(bound.title, start, end, level + 1)))
    return plans if any(s.paras for plan in plans for s in plan.sections) else []


class _MarkerTree:
    """Markers by level, for cutting a paragraph range at its sub-headings."""

    def __init__(self, paras: list[Para], markers: list[Marker]):
        self.paras = paras
        self.by_level: dict[int, list[Marker]] = {}
        for marker in markers:
            self.by_level.setdefault(marker.level, []).append(marker)
        self.starts = {lv: [m.index for m in ms] for lv, ms in self.by_level.items()}
        self.cum = [0]
        for para in paras:
            self.cum.append(self.cum[-1] + para.words)

    def sections(self, title: str, start: int, end: int, level: int) -> list[Section]:
        """One section per `level` marker in [start, end); an over-long one is cut one level deeper."""
        starts = self.starts.get(level, [])
        subs = self.by_level.get(level, [])[bisect.bisect_left(starts, start) : bisect.bisect_left(starts, end)]
        if not subs:
            return [Section(title, self.paras[start:end])]
        out = [Section(title, self.paras[start : subs[0].index])]
        for k, sub in enumerate(subs):
            sub_start = sub.index + sub.consumed
            sub_end = subs[k + 1].index if k + 1 < len(subs) else end
            if self.cum[sub_end] - self.cum[sub_start] > MAX_LESSON_WORDS:
                out.extend(self.sections(sub.title, sub_start, sub_end, level + 1))
            else:
                out.append(Section(sub.title, self.paras[sub_start:sub_end]))
        return out


def _finish(plans: list[ModulePlan]) -> list[ModulePlan]:
    """Fold modules too small to teach into a neighbour, then size every module's lessons once."""
    plans = [p for p in plans if any(s.paras for s in p.sections)]
    kept: list[ModulePlan] = []
    carry: list[Section] = []
    for plan in plans:
        sections = carry + plan.sections
        carry = []
        if sum(s.words for s in sections) < MIN_LESSON_WORDS and len(plans) > 1:
            if kept:
                kept[-1].sections.extend(sections)
            else:
                carry = sections
            continue
        kept.append(ModulePlan(plan.title, sections))
    if carry:
        kept.append(ModulePlan(None, carry))
    return [ModulePlan(p.title, size_sections(p.sections)) for p in kept]
