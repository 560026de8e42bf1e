"""Fixtures of the repository tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from profai.db.engine import make_engine, make_session_factory, session_scope
from profai.db.migrate import upgrade
from profai.db.models import Job


@pytest.fixture
def sessions(db_url) -> Iterator[sessionmaker[Session]]:
    """Sessions on each backend's database, its schema up to date; its jobs removed afterwards
    (PostgreSQL's database is shared by the session's tests)."""
    engine = make_engine(db_url)
    upgrade(engine)
    factory = make_session_factory(engine)
    yield factory
    with session_scope(factory) as s:
        s.query(Job).delete()
    engine.dispose()
