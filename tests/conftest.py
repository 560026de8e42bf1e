"""Shared fixtures: settings in a temp data dir, a wired Container, an HTTP client, PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from profai.api import create_app
from profai.settings import Settings
from profai.wiring import Container, build_container
from support import make_settings

PG_ADMIN_URL = os.environ.get("PROFAI_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "data", COMPUTE_PROCESSES=0)


@pytest.fixture
def ctx(settings: Settings) -> Iterator[Container]:
    container = build_container(settings, compute_processes=0)
    container.runner.start()
    yield container
    container.close()


@pytest.fixture
def client(ctx: Container) -> Iterator[TestClient]:
    with TestClient(create_app(ctx=ctx)) as c:
        yield c


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped afterwards."""
    name = f"profai_test_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path: Path) -> str:
    """Both relational backends, for repository and job-state tests."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'db.sqlite3'}"
    return request.getfixturevalue("pg_url")
