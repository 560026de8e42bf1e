"""The course generator interface and the drafts it returns."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from profai.ingest.pdf import PdfDocument

ProgressFn = Callable[[float, str], None]  # fraction 0..1, message


@dataclass
class LessonDraft:
    """One lesson: source text of a page range plus its summary and key terms."""

    title: str
    content: str
    summary: str
    key_terms: list[str]
    source_file: str
    page_start: int
    page_end: int


@dataclass
class ModuleDraft:
    """A group of lessons, usually one chapter."""

    title: str
    lessons: list[LessonDraft] = field(default_factory=list)


@dataclass
class CourseDraft:
    """A whole course built from one or more documents."""

    title: str
    modules: list[ModuleDraft] = field(default_factory=list)


class CourseGenerator(Protocol):
    """Turns documents into a course draft."""

    name: str

    def build_course(
        self, title: str, documents: Sequence[PdfDocument], progress: ProgressFn | None = None
    ) -> CourseDraft:
        """Build a course titled `title` from `documents`, reporting progress if asked."""
        ...
