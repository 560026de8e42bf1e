"""Course responses: every lesson says which file and pages it came from."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from profai.db.models import Course


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


class ModuleOut(BaseModel):
    id: int
    title: str
    lessons: list[LessonOut]


class SourceFile(BaseModel):
    filename: str
    pages: int
    sha256: str
    ocr_pages: list[int] = []  # pages without a text layer, read by OCR


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
        return cls(
            id=course.id, course_id=course.id, title=course.title, course_title=course.title,
            generator=course.generator, job_id=course.job_id, created_at=course.created_at,
            owner_id=course.owner_id, join_code=join_code, search_ready=course.indexed_at is not None,
            source_files=[SourceFile(**{k: f[k] for k in ("filename", "pages", "sha256", "ocr_pages") if k in f})
                          for f in course.source_files],
            modules=[
                ModuleOut(id=m.id, title=m.title, lessons=[
                    LessonOut(id=lesson.id, title=lesson.title, content=lesson.content, summary=lesson.summary,
                              key_terms=list(lesson.key_terms), source_file=lesson.source_file,
                              page_start=lesson.page_start, page_end=lesson.page_end,
                              page_marks=lesson.page_marks)
                    for lesson in m.lessons
                ])
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
