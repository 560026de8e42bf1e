"""Database snapshots for `profai backup` / `profai restore`: SQLite's online backup API, and
pg_dump / pg_restore (custom format) for PostgreSQL. Both read a consistent snapshot while the
server keeps writing: SQLite copies every page under one read transaction, pg_dump reads in one
repeatable-read transaction."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from profai.db.migrate import alembic_config
from profai.errors import ProfAIError

Backend = Literal["sqlite", "postgresql"]
# Tables of the database's own making: anything else in a schema of its user's counts as data.
_SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast")


class DatabaseSnapshotError(ProfAIError):
    status_code = 500
    code = "database_snapshot_failed"


@dataclass(frozen=True)
class DatabaseDump:
    backend: Backend
    revision: str | None  # the Alembic revision of the schema, None if it was never migrated


def backend_of(url: str) -> Backend:
    """The kind of database an SQLAlchemy URL names."""
    name = make_url(url).get_backend_name()
    if name in ("sqlite", "postgresql"):
        return name  # type: ignore[return-value]  # narrowed by the test above
    raise DatabaseSnapshotError(f"backups support SQLite and PostgreSQL, not {name}", code="unsupported_database")


def dump(url: str, dest: Path) -> DatabaseDump:
    """Write a consistent snapshot of the database to `dest`."""
    if backend_of(url) == "sqlite":
        return _sqlite_dump(_sqlite_path(url), dest)
    revision = _revision(url)
    _run_tool("pg_dump", ["--format=custom", f"--file={dest}"], url)
    return DatabaseDump("postgresql", revision)


def has_data(url: str) -> bool:
    """Whether the database holds any table (a ProfAI that ever started there made its schema)."""
    if backend_of(url) == "sqlite":
        path = _sqlite_path(url)
        if not path.exists() or path.stat().st_size == 0:
            return False
        try:
            with closing(sqlite3.connect(path)) as conn:
                return conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0] > 0
        except sqlite3.Error:  # something that is not a database: not ours to overwrite either
            return True
    with _connected(url) as conn:
        tables = conn.execute(text("SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname <> ALL(:system)"),
                              {"system": list(_SYSTEM_SCHEMAS)}).scalar_one()
    return bool(tables)


def restore(url: str, src: Path, backend: Backend, *, replace: bool) -> None:
    """Load a dump made by `dump` into the database at `url`, of its own kind (check_kind) and
    empty (has_data) unless `replace`: then what it holds is replaced."""
    if check_kind(backend, url) == "sqlite":
        _sqlite_restore(src, _sqlite_path(url))
        return
    if replace:
        _run_tool("psql", ["--quiet", "--no-psqlrc", "--set=ON_ERROR_STOP=1",
                           "--command=DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;"], url)
    # One transaction: a restore that fails leaves the database as it was.
    _run_tool("pg_restore", ["--no-owner", "--no-acl", "--exit-on-error", "--single-transaction", str(src)], url)


def check_kind(backend: Backend, url: str) -> Backend:
    """The target's kind, if a dump of `backend` can be restored there (only into its own kind)."""
    target = backend_of(url)
    if backend != target:
        raise DatabaseSnapshotError(
            f"this backup holds a {_NAMES[backend]} database and the target is {_NAMES[target]}; restore it "
            f"into {_NAMES[backend]} (set DATABASE_URL accordingly)", code="database_kind_mismatch")
    return target


def known_revision(revision: str | None) -> bool:
    """Whether this ProfAI's migrations know the revision (a newer ProfAI's backup has one they do not)."""
    if revision is None:
        return True
    scripts = ScriptDirectory.from_config(alembic_config())
    return any(script.revision == revision for script in scripts.walk_revisions())


_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise DatabaseSnapshotError("an in-memory SQLite database cannot be backed up", code="unsupported_database")
    return Path(database)


def _sqlite_dump(path: Path, dest: Path) -> DatabaseDump:
    if not path.exists():  # sqlite3.connect would make an empty one
        raise DatabaseSnapshotError(f"there is no database at {path}: is PROFAI_DATA_DIR right?",
                                    code="database_missing")
    try:
        with closing(sqlite3.connect(path, timeout=30)) as source, closing(sqlite3.connect(dest)) as copy:
            source.backup(copy)  # every page in one step: one read transaction, one point in time
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
            revision = _sqlite_revision(copy)
    except sqlite3.Error as exc:
        raise DatabaseSnapshotError(f"SQLite could not copy {path}: {exc}") from None
    return DatabaseDump("sqlite", revision)


def _sqlite_restore(src: Path, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_name(path.name + ".restoring")
    shutil.copyfile(src, staged)
    try:
        with closing(sqlite3.connect(staged)) as conn:
            healthy = conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    except sqlite3.Error:
        healthy = False
    if not healthy:
        staged.unlink(missing_ok=True)
        raise DatabaseSnapshotError("the database in the backup is damaged", code="bad_backup")
    # The old database's journal must not be replayed into the new one.
    for stale in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        stale.unlink(missing_ok=True)
    os.replace(staged, path)


def _sqlite_revision(conn: sqlite3.Connection) -> str | None:
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.OperationalError:  # never migrated
        return None
    return row[0] if row else None


def _revision(url: str) -> str | None:
    with _connected(url) as conn:
        exists = conn.execute(text("SELECT to_regclass('alembic_version') IS NOT NULL")).scalar_one()
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar() if exists else None


@contextmanager
def _connected(url: str) -> Iterator[Connection]:
    """A connection to a PostgreSQL database of its own engine; an unreachable one raises our error."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            yield conn
    except SQLAlchemyError as exc:
        raise DatabaseSnapshotError(f"cannot connect to the database {_safe(url)}: "
                                    f"{_first_line(getattr(exc, 'orig', None) or exc)}",
                                    code="database_unreachable") from None
    finally:
        engine.dispose()


def _run_tool(tool: str, args: list[str], url: str) -> None:
    """Run a PostgreSQL client tool on the database; its own error line if it fails. The password
    goes in the environment, never on a command line that `ps` shows."""
    parsed = make_url(url)
    dbname = parsed.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    env = {**os.environ, **({"PGPASSWORD": str(parsed.password)} if parsed.password else {})}
    try:
        done = subprocess.run([tool, *args, f"--dbname={dbname}"], env=env, capture_output=True, text=True,
                              check=False)
    except FileNotFoundError:
        raise DatabaseSnapshotError(f"{tool} is not installed: install the PostgreSQL client tools "
                                    "(Debian: postgresql-client)", code="tool_missing") from None
    if done.returncode != 0:
        raise DatabaseSnapshotError(f"{tool} failed on {_safe(url)}: {_tool_error(done.stderr)}")


def _tool_error(stderr: str) -> str:
    """The first line a PostgreSQL tool marked as an error, without the tool's name."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if "error:" in line.lower() or "fatal:" in line.lower()] or lines
    if not errors:
        return "no message"
    line = errors[0]
    for marker in ("error:", "ERROR:", "FATAL:"):
        if marker in line:
            line = line.split(marker, 1)[1].strip()
            break
    return line[:300]


def _safe(url: str) -> str:
    """The URL as it may be shown: no password."""
    return make_url(url).render_as_string(hide_password=True)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
