"""Course rows on SQLite and PostgreSQL: a generated course saved and read back whole, a rerun that
replaces instead of duplicating, and migrations that build exactly the schema the models describe."""

from __future__ import annotations

import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from profai.db import courses_repo
from profai.db.engine import make_engine, make_session_factory, session_scope
from profai.db.migrate import upgrade
from profai.db.models import Base, Course, Lesson
from profai.providers.generator import ExtractiveGenerator


@pytest.fixture
def engine(db_url):
    engine = make_engine(db_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def draft(r_intro):
    return ExtractiveGenerator().build_course("R chapters 2-5", [r_intro])


def _save(sessions, draft, job_id: str | None) -> int:
    with session_scope(sessions) as s:
        return courses_repo.replace_for_job(s, job_id=job_id, draft=draft, generator="extractive", collection=None,
                                            source_files=[{"filename": "R-intro.pdf", "pages": 21}]).id


def _fields(lesson) -> tuple:
    return (lesson.title, lesson.content, lesson.summary, list(lesson.key_terms), lesson.source_file,
            lesson.page_start, lesson.page_end)


def test_migrations_build_the_schema_of_the_models(engine):
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def test_a_course_reads_back_as_it_was_built(engine, draft):
    sessions = make_session_factory(engine)
    course_id = _save(sessions, draft, job_id=None)
    with session_scope(sessions) as s:
        course = courses_repo.get(s, course_id)
        saved = [[_fields(lesson) + ([tuple(mark) for mark in lesson.page_marks],) for lesson in m.lessons]
                 for m in course.modules]
        s.delete(course)  # PostgreSQL's database is shared by the session's tests
    built = [[_fields(lesson) + (lesson.page_marks,) for lesson in m.lessons] for m in draft.modules]
    assert saved == built
    assert any(len(lesson[-1]) > 1 for module in saved for lesson in module)  # lessons that span pages


def test_a_rerun_of_the_same_job_replaces_its_course(engine, draft):
    sessions = make_session_factory(engine)
    job_id = str(uuid.uuid4())
    _save(sessions, draft, job_id)
    second = _save(sessions, draft, job_id)
    with session_scope(sessions) as s:
        courses = s.query(Course).filter(Course.job_id == job_id).all()
        assert [c.id for c in courses] == [second]
        lessons = s.query(Lesson).filter(Lesson.course_id == second).count()
        assert lessons == sum(len(m.lessons) for m in draft.modules)
        s.delete(courses[0])
