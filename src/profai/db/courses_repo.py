"""Course rows: save a generated course in one go, read it back with modules and lessons."""

from __future__ import annotations

import secrets
from dataclasses import asdict
from typing import Any

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.orm import Session, selectinload

from profai.db.models import Course, Enrollment, Lesson, Module, utcnow
from profai.domain import CourseDraft


def replace_for_job(
    session: Session, *, job_id: str | None, draft: CourseDraft, generator: str,
    collection: str | None, source_files: list[dict[str, Any]], import_key: str | None = None,
    owner_id: int | None = None,
) -> Course:
    """Save the course a job built; a rerun of the same job replaces it instead of duplicating.
    A course with a vector collection is searchable once `mark_indexed`; one without has nothing
    to index."""
    existing = None
    if job_id is not None:
        existing = session.scalar(select(Course).where(Course.job_id == job_id))
    if existing is not None:
        session.execute(delete(Module).where(Module.course_id == existing.id))
        session.delete(existing)
        session.flush()
    course = Course(job_id=job_id, title=draft.title, generator=generator, collection=collection,
                    source_files=source_files, import_key=import_key, owner_id=owner_id,
                    join_code=new_join_code() if owner_id is not None else None,
                    indexed_at=None if collection else utcnow())
    session.add(course)
    session.flush()
    for m_pos, module_draft in enumerate(draft.modules):
        module = Module(course_id=course.id, position=m_pos, title=module_draft.title[:300])
        session.add(module)
        session.flush()
        for l_pos, ld in enumerate(module_draft.lessons):
            session.add(Lesson(
                module_id=module.id, course_id=course.id, position=l_pos, title=ld.title[:300],
                content=ld.content, summary=ld.summary, key_terms=list(ld.key_terms),
                source_file=ld.source_file, page_start=ld.page_start, page_end=ld.page_end,
                page_marks=ld.page_marks, blocks=[asdict(b) for b in ld.blocks],
            ))
    session.flush()
    return course


def mark_indexed(session: Session, course_id: int) -> None:
    session.execute(update(Course).where(Course.id == course_id).values(indexed_at=utcnow()))


def get(session: Session, course_id: int) -> Course | None:
    return session.scalar(
        select(Course).where(Course.id == course_id)
        .options(selectinload(Course.modules).selectinload(Module.lessons))
    )


def by_job(session: Session, job_id: str) -> Course | None:
    return session.scalar(select(Course).where(Course.job_id == job_id))


def by_import_key(session: Session, key: str) -> Course | None:
    return session.scalar(select(Course).where(Course.import_key == key))


def new_join_code() -> str:
    """Ten characters a student can type: unambiguous letters and digits, ~50 bits."""
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(10))


_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def _scope(q: Select[Any], owner_id: int | None, student_id: int | None) -> Select[Any]:
    """Only a teacher's own courses, or those a student joined; neither given: every course."""
    if owner_id is not None:
        q = q.where(Course.owner_id == owner_id)
    if student_id is not None:
        q = q.where(Course.id.in_(select(Enrollment.course_id).where(Enrollment.user_id == student_id)))
    return q


def list_courses(session: Session, *, limit: int = 100, offset: int = 0, owner_id: int | None = None,
                 student_id: int | None = None) -> list[tuple[Course, int, int]]:
    """Courses newest first, with module and lesson counts."""
    modules = select(func.count(Module.id)).where(Module.course_id == Course.id).scalar_subquery()
    lessons = select(func.count(Lesson.id)).where(Lesson.course_id == Course.id).scalar_subquery()
    q = _scope(select(Course, modules, lessons), owner_id, student_id)
    rows = session.execute(q.order_by(Course.id.desc()).limit(limit).offset(offset)).all()
    return [(c, m, n) for c, m, n in rows]


def count(session: Session, *, owner_id: int | None = None, student_id: int | None = None) -> int:
    return session.scalar(_scope(select(func.count(Course.id)), owner_id, student_id)) or 0


def head(session: Session, course_id: int) -> Course | None:
    """The course row alone (owner, code, collection), without modules and lessons."""
    return session.get(Course, course_id)


def by_join_code(session: Session, code: str) -> Course | None:
    return session.scalar(select(Course).where(Course.join_code == code))


def get_lesson(session: Session, course_id: int, lesson_id: int) -> Lesson | None:
    return session.scalar(select(Lesson).where(Lesson.id == lesson_id, Lesson.course_id == course_id))


def delete_course(session: Session, course: Course) -> None:
    session.execute(delete(Module).where(Module.course_id == course.id))
    session.delete(course)
    session.flush()


def vector_refs(session: Session) -> list[tuple[str | None, str | None]]:
    """Every course's job id and vector collection (for the orphan sweep)."""
    return [(job_id, collection) for job_id, collection in session.execute(select(Course.job_id, Course.collection))]


def uses_collection(session: Session, collection: str) -> bool:
    """Whether a course searches this vector collection."""
    return session.scalar(select(func.count(Course.id)).where(Course.collection == collection)) != 0
