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
    merge_tiny,
    size_sections,
)
from profai.providers.generator.segment import topic_plans

# Back matter and navigation pages are not lesson material.
_SKIP_TITLE_RE = re.compile(
    r"^(?:[A-Z0-9]{1,3}(?:\.\d+)*\.?\s+)?(?:(?:table of )?contents|.*\bindex(?:es)?|bibliography|references|list of (?:figures|tables))$",
    re.IGNORECASE,
)
# Front matter: gathered into one module of whole lessons, ahead of the chapters.
_FRONT_RE = re.compile(
    r"^(?:preface|foreword|prologue|acknowledge?ments?|about (?:this|the) (?:book|manual|guide|authors?)|dedication|"
    r"copyright|colophon|how to (?:use|read) this (?:book|manual|guide)|conventions(?: used)?|notation|"
    r"to the (?:reader|student|teacher|instructor)s?|preface to the .+|.+ edition)$",
    re.IGNORECASE,
)
FRONT_MATTER = "Front matter"
OVERVIEW = "Overview"
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
    """All blocks in reading order, re-joining a paragraph or a listing that runs across a page break."""
    out: list[Para] = []
    for page in doc.pages:
        first = True
        for block in page.parts():
            text = block.text if block.kind == "code" else block.text.strip()
            if not text.strip():
                continue
            words = len(text.split())
            prev = out[-1] if out else None
            glue = _continues(prev, block.kind, text) if first and prev and prev.page_end == page.number - 1 else None
            if prev and glue is not None:
                out[-1] = Para(f"{prev.text}{glue}{text}", prev.page_start, page.number, prev.words + words,
                               (*prev.breaks, (len(prev.text) + len(glue), page.number)), prev.kind)
            else:
                out.append(Para(text, page.number, page.number, words, kind=block.kind, level=block.level))
            first = False
    return out


def _continues(previous: Para, kind: str, text: str) -> str | None:
    """What joins a page's first block to the last of the page before, if it goes on from it."""
    if previous.kind == kind == "code":
        return "\n"
    if previous.kind == kind and kind in ("paragraph", "quote") \
            and not previous.text.endswith((".", "!", "?", ":")) and text[:1].islower():
        return " "
    return None


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
    """The headings the PDF's fonts showed; without them, short title-like paragraphs followed by
    body text, numbered ones winning when present."""
    if any(p.kind == "heading" for p in paras):
        return [Marker(p.text, p.level - 1, i, True) for i, p in enumerate(paras) if p.kind == "heading"]
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
        if _SKIP_TITLE_RE.match(bound.title):
            continue
        start = bound.index + bound.consumed
        if bound.level < level:
            # A chapter's own opening text, above its first module-level heading: kept as a
            # lesson of its own (a module too small to teach is folded into a neighbour later).
            plans.append(ModulePlan(bound.title, [Section(bound.title, paras[start:end])]))
            continue
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
    """Gather the front matter into one module; fold modules too small to teach into a neighbour,
    then size every module's lessons once (front matter is not cut into parts)."""
    plans = [p for p in plans if any(s.paras for s in p.sections)]
    front = _front_matter(plans)
    if front:
        plans = plans[len(front):]
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
    sized = [ModulePlan(p.title, _overview(p.title, size_sections(p.sections))) for p in kept]
    if front:
        sections = [Section(s.title or p.title, s.paras) for p in front for s in p.sections]
        title = front[0].title if len(front) == 1 else FRONT_MATTER
        sized.insert(0, ModulePlan(title, merge_tiny(sections)))
    return sized


def _front_matter(plans: list[ModulePlan]) -> list[ModulePlan]:
    """The leading modules that are a preface, a foreword and the like, when chapters follow."""
    front: list[ModulePlan] = []
    for plan in plans:
        if not (plan.title and _FRONT_RE.match(plan.title)):
            break
        front.append(plan)
    return front if len(front) < len(plans) else []


def _overview(module: str | None, sections: list[Section]) -> list[Section]:
    """A module's opening text before its first section is its overview, not a second lesson
    named like the module ("Preface › Preface")."""
    if len(sections) > 1 and module and sections[0].title and _norm(sections[0].title) == _norm(module):
        sections[0] = Section(OVERVIEW, sections[0].paras)
    return sections
