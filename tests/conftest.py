"""Shared fixtures: settings in a temp data dir, a wired Container, an HTTP client, PostgreSQL,
and R-intro.pdf indexed by the real embedder into a real Chroma store."""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from profai.api import create_app
from profai.settings import Settings
from profai.wiring import Container, build_container
from support import ADMIN_HEADERS, make_settings

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
    with TestClient(create_app(ctx=ctx), headers=ADMIN_HEADERS) as c:
        yield c


@pytest.fixture(scope="session")
def pg_databases() -> Iterator:
    """Makes fresh PostgreSQL databases on demand; all are dropped at the end of the session."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    made: list[str] = []

    def make() -> str:
        name = f"profai_test_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        made.append(name)
        return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name

    yield make
    with admin.connect() as conn:
        for name in made:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def pg_url(pg_databases) -> str:
    """One PostgreSQL database shared by the session's repository tests."""
    return pg_databases()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path: Path) -> str:
    """Both relational backends, for repository and job-state tests."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'db.sqlite3'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture(scope="session")
def chroma_server_url(tmp_path_factory) -> Iterator[str]:
    """A real `chroma run` server on a free loopback port for the whole session."""
    import sys

    from procs import free_port, kill_group, start_process, wait_http

    data = tmp_path_factory.mktemp("chroma-server")
    port = free_port()
    chroma = str(Path(sys.executable).parent / "chroma")
    log = data / "server.log"
    proc = start_process([chroma, "run", "--host", "127.0.0.1", "--port", str(port), "--path", str(data / "db")],
                         {}, log)
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/api/v2/heartbeat", proc, log)
    yield url
    kill_group(proc, signal.SIGTERM)



@pytest.fixture(scope="session")
def minilm():
    from profai.providers.embedder import OnnxMiniLM

    return OnnxMiniLM(threads=2)


@pytest.fixture(scope="session")
def r_intro():
    from support import r_intro_chapters

    return r_intro_chapters()


@pytest.fixture(scope="session")
def r_intro_store(tmp_path_factory, r_intro, minilm):
    """R-intro's chapters 2-5, chunked and embedded as a course is, in collection R_INTRO_COURSE.
    Tests may add collections of their own but leave this one as it is."""
    from profai.pipelines.heavy import passages
    from profai.stores.vectors import ChromaVectorStore
    from support import R_INTRO_COURSE, upsert_chunks

    store = ChromaVectorStore.embedded(tmp_path_factory.mktemp("r-intro-chroma"))
    upsert_chunks(store, R_INTRO_COURSE, passages(r_intro), minilm)
    return store


@pytest.fixture(scope="session")
def book(tmp_path_factory):
    """The textbook of tests/textbook.py, its chapter pages printed from 30 on."""
    from textbook import make_textbook

    return make_textbook(tmp_path_factory.mktemp("book") / "book.pdf", first_printed=30)


@pytest.fixture(scope="session")
def book_doc(book):
    """The textbook as the reader reads it."""
    from profai.ingest.pdf import read_pdf

    return read_pdf(book.path, "book.pdf")
