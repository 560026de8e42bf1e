"""Engine and session scope.

Transactions: a service function or a job step (including the Celery task's sweep) opens each unit
of work with `session_scope`, which commits when the block ends and rolls back on error.
Repositories (db/*_repo.py) only read and write inside the session they are given and never
commit; routes and CLI commands call services and never open a session themselves."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, Row
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.sql import Executable, Select

T = TypeVar("T")


def make_engine(url: str, *, hot_reads: bool = False) -> Engine:
    """An engine tuned for its backend: WAL and a busy timeout on SQLite, pre-ping on servers.

    `hot_reads` makes the engine for single-statement reads that many clients poll (job status):
    autocommit and no pre-ping, which saves three of the four round trips a read otherwise costs
    (ping, BEGIN, COMMIT); `fetch_one` retries the one read that meets a dropped connection."""
    options = {"isolation_level": "AUTOCOMMIT"} if hot_reads else {}
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **options)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=not hot_reads, pool_size=10, max_overflow=20, pool_recycle=1800,
                         **options)


def fetch_one(engine: Engine, statement: Select, params: dict[str, Any] | None = None) -> Row | None:
    """The first row of a read on a hot-reads engine; a connection that a database restart
    dropped fails once, invalidates the pool, and the retry gets a fresh one."""
    return _once_more(lambda: _rows(engine, statement, params, first=True))


def fetch_all(engine: Engine, statement: Executable, params: dict[str, Any] | None = None) -> list[Any]:
    """All rows of a read on a hot-reads engine, retried as fetch_one's."""
    return _once_more(lambda: _rows(engine, statement, params, first=False))


def _once_more(read: Callable[[], T]) -> T:
    try:
        return read()
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
    return read()


def _rows(engine: Engine, statement: Executable, params: dict[str, Any] | None, *, first: bool) -> Any:
    with engine.connect() as conn:
        result = conn.execute(statement, params)
        return result.first() if first else list(result.all())


def _sqlite_pragmas(dbapi_conn: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    # WAL lets readers (status polls) proceed while a job writes; the busy timeout makes
    # writers from several threads or processes wait instead of failing.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A unit of work: commit on success, roll back on error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
