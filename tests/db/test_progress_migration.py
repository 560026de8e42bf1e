"""Revision 0011 (lesson_progress) on SQLite and PostgreSQL: it goes down and up again cleanly, and
a lesson's progress rows go with the lesson (a rebuilt course starts afresh) and with the user."""

from __future__ import annotations

import uuid

import pytest
from alembic import command
from sqlalchemy import inspect

from profai.db import accounts_repo, courses_repo, progress_repo
from profai.db.engine import make_engine, session_scope
from profai.db.migrate import alembic_config, upgrade
from profai.db.models import LessonProgress
from profai.domain import CourseDraft, LessonDraft, ModuleDraft


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_url(request, tmp_path) -> str:
    """An empty database of each kind (PostgreSQL's of its own: this test takes the schema down)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'db.sqlite3'}"
    return request.getfixturevalue("pg_databases")()


def _to(engine, revision: str, *, down: bool = False) -> None:
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(cfg, revision)


def test_revision_0011_goes_down_and_up_again(fresh_url):
    engine = make_engine(fresh_url)
    try:
        upgrade(engine)
        assert "lesson_progress" in inspect(engine).get_table_names()
        _to(engine, "0010", down=True)
        assert "lesson_progress" not in inspect(engine).get_table_names()
        assert "lessons" in inspect(engine).get_table_names()
        _to(engine, "head")
        indexes = {i["name"] for i in inspect(engine).get_indexes("lesson_progress")}
        assert "ix_lesson_progress_lesson_id" in indexes
    finally:
        engine.dispose()


def _course(session) -> tuple[int, int]:
    draft = CourseDraft("Progress", modules=[ModuleDraft("One", lessons=[
        LessonDraft("First", "Some text.", "", [], source_file="a.pdf", page_start=1, page_end=2)])])
    course = courses_repo.replace_for_job(session, job_id=str(uuid.uuid4()), draft=draft, generator="x",
                                          collection=None, source_files=[])
    return course.id, course.modules[0].lessons[0].id


def test_progress_goes_with_its_lesson_and_its_user(sessions):
    with session_scope(sessions) as s:
        user = accounts_repo.add_user(s, f"p{uuid.uuid4().hex[:8]}@school.example", "x", "student")
        other = accounts_repo.add_user(s, f"p{uuid.uuid4().hex[:8]}@school.example", "x", "student")
        course_id, lesson_id = _course(s)
        first = progress_repo.mark_done(s, user.id, lesson_id)
        assert progress_repo.mark_done(s, user.id, lesson_id) == first  # marking again keeps the first time
        progress_repo.mark_done(s, other.id, lesson_id)
        user_id, other_id = user.id, other.id
    with session_scope(sessions) as s:
        assert [i for i, _ in progress_repo.done_in_course(s, user_id, course_id)] == [lesson_id]
        s.delete(accounts_repo.get_user(s, other_id))
    with session_scope(sessions) as s:
        assert s.query(LessonProgress).filter_by(lesson_id=lesson_id).count() == 1
        courses_repo.delete_course(s, courses_repo.head(s, course_id))
    with session_scope(sessions) as s:
        assert s.query(LessonProgress).filter_by(lesson_id=lesson_id).count() == 0
        s.delete(accounts_repo.get_user(s, user_id))
