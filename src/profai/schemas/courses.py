"""Course responses: every lesson says which file and pages it came from."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

from pydantic import BaseModel

from profai.db.models import Course, Lesson
from profai.domain import page_label, paragraph_blocks


class BlockOut(BaseModel):
    """A part of a lesson: paragraph, heading (`level` 1 = largest), code (every space kept),
    list (an item a line), quote or caption."""

    kind: str
    text: str
    level: int = 0


class LessonOut(BaseModel):
    id: int
    title: str
    content: str
    summary: str
    key_terms: list[str]
    source_file: str
    page_start: int
    page_end: int
    # [[offset, page], ...]: where each page begins in `content` (offsets in characters); empty when
    # the content is not the source text (written by a model, or imported).
    page_marks: list[tuple[int, int]]
    # `content` as blocks; a lesson written by a model, or imported, is all paragraphs.
    blocks: list[BlockOut]
    # The numbers printed on the first and last page ("32", "iv"), where the PDF shows them.
    page_start_label: str | None = None
    page_end_label: str | None = None

    @classmethod
    def of(cls, lesson: Lesson, labels: list[str | None]) -> LessonOut:
        blocks = lesson.blocks or [asdict(b) for b in paragraph_blocks(lesson.content)]
        return cls(id=lesson.id, title=lesson.title, content=lesson.content, summary=lesson.summary,
                   key_terms=list(lesson.key_terms), source_file=lesson.source_file,
                   page_start=lesson.page_start, page_end=lesson.page_end, page_marks=lesson.page_marks,
                   blocks=[BlockOut(**b) for b in blocks],
                   page_start_label=page_label(labels, lesson.page_start),
                   page_end_label=page_label(labels, lesson.page_end))


class ModuleOut(BaseModel):
    id: int
    title: str
    source_file: str | None = None  # the PDF its lessons come from
    lessons: list[LessonOut]


class SourceFile(BaseModel):
    filename: str
    pages: int
    sha256: str
    ocr_pages: list[int] = []  # pages without a text layer, read by OCR
    # The number printed on each page, by PDF page index ("iv", "32"; null where none is known);
    # empty when the PDF shows none.
    page_labels: list[str | None] = []


class CourseOut(BaseModel):
    id: int
    course_id: int
    title: str
    course_title: str
    generator: str
    job_id: str | None
    created_at: datetime
    source_files: list[SourceFile]
    modules: list[ModuleOut]
    owner_id: int | None = None
    # False while its passages are being indexed: lessons, quizzes and audio work, chat waits.
    search_ready: bool = True
    # Shown to the course's teacher (and admins) only: students join with it.
    join_code: str | None = None

    @classmethod
    def of(cls, course: Course, join_code: str | None = None) -> CourseOut:
        labels = course.page_labels()
        return cls(
            id=course.id, course_id=course.id, title=course.title, course_title=course.title,
            generator=course.generator, job_id=course.job_id, created_at=course.created_at,
            owner_id=course.owner_id, join_code=join_code, search_ready=course.indexed_at is not None,
            source_files=[SourceFile(**{k: f[k] for k in ("filename", "pages", "sha256", "ocr_pages", "page_labels")
                                        if k in f})
                          for f in course.source_files],
            modules=[
                ModuleOut(id=m.id, title=m.title, source_file=m.lessons[0].source_file if m.lessons else None,
                          lessons=[LessonOut.of(lesson, labels.get(lesson.source_file, [])) for lesson in m.lessons])
                for m in course.modules
            ],
        )


class CourseSummary(BaseModel):
    id: int
    course_id: int
    title: str
    course_title: str
    modules: int
    lessons: int
    created_at: datetime
    search_ready: bool = True


class CourseList(BaseModel):
    courses: list[CourseSummary]
    total: int
